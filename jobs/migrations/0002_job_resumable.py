from django.db import migrations, models
from django.db.models import Exists, OuterRef


def mark_resumable(apps, schema_editor):
    """Jobs that ended before the column existed: resumable as the kinds of that time said
    (exports and campaigns, after an unsuccessful ending, unless resumed already)."""
    Job = apps.get_model("jobs", "Job")
    resumed = Job.objects.filter(resumed_from=OuterRef("pk"))
    (Job.objects.filter(kind__in=["export", "campaign"],
                        status__in=["interrupted", "cancelled", "failed"])
     .exclude(Exists(resumed))
     .exclude(result__has_key="resumed_by")
     .update(resumable=True))


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="resumable",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(mark_resumable, migrations.RunPython.noop),
    ]
