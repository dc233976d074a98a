from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Agreements and reminder campaigns"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.kind import CAMPAIGN
        from campaigns.permissions import senders_group_ensure
        from jobs import kinds

        kinds.register(CAMPAIGN)
        post_migrate.connect(senders_group_ensure, sender=self)
