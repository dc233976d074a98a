from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from jobs import kinds, signals  # noqa: F401
        from jobs.demo import DEMO
        from jobs.models import JobQuerySet
        from jobs.publish import publish_job

        JobQuerySet.publisher = publish_job
        kinds.register(DEMO)
