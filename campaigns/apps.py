from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Agreements and reminder campaigns"

    def ready(self) -> None:
        from campaigns.kind import CAMPAIGN
        from jobs import kinds

        kinds.register(CAMPAIGN)
