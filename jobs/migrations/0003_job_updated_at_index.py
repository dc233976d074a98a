from django.db import migrations, models


class Migration(migrations.Migration):
    """An index on Job.updated_at: jobs/watch.py reads the rows changed in the last seconds,
    once a second, on servers running the in-process channel layer."""

    dependencies = [
        ("jobs", "0002_job_resumable"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True),
        ),
    ]
