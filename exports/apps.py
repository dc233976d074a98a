from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Claims and exports"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from exports.kind import EXPORT
        from exports.permissions import exporters_group_ensure
        from jobs import kinds

        kinds.register(EXPORT)
        # After auth's own post_migrate handler has created this app's permissions.
        post_migrate.connect(exporters_group_ensure, sender=self)
