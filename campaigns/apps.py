from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Agreements and reminder campaigns"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from campaigns.kind import CAMPAIGN
        from campaigns.live import acceptance_changed
        from campaigns.models import Acceptance
        from campaigns.permissions import senders_group_ensure
        from jobs import groups, kinds

        kinds.register(CAMPAIGN)
        # Dashboards of who may send reminders get `agreement.counts` (campaigns/live.py).
        groups.feed_register(CAMPAIGN.name)
        post_save.connect(acceptance_changed, sender=Acceptance,
                          dispatch_uid="campaigns.acceptance_saved")
        post_delete.connect(acceptance_changed, sender=Acceptance,
                            dispatch_uid="campaigns.acceptance_deleted")
        post_migrate.connect(senders_group_ensure, sender=self)
