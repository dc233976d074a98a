from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Agreements and reminder campaigns"

    def ready(self) -> None:
        from campaigns import jobs
        from campaigns.summary import campaigns_summarize_finished
        from jobs.monitor import monitor

        jobs.register()
        # Interrupted campaigns (their server died) get their summary when someone notices.
        monitor.add_periodic(campaigns_summarize_finished, every=30.0)
