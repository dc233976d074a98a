from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from jobs import demo, kinds, signals  # noqa: F401

        kinds.register(demo.KIND, demo.run_demo)
