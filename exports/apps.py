from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Claims and exports"

    def ready(self) -> None:
        from django.conf import settings

        from exports import jobs, services
        from jobs import kinds
        from jobs.monitor import monitor

        kinds.register(jobs.KIND, jobs.run_export, cleanup=jobs.cleanup_export,
                       resume=services.export_retry)
        # Every server sweeps expired and orphaned export files (storage is shared).
        monitor.add_periodic(services.exports_cleanup, settings.EXPORT_CLEANUP_INTERVAL)
