from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Claims and exports"

    def ready(self) -> None:
        from exports.kind import EXPORT
        from jobs import kinds

        kinds.register(EXPORT)
