from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import Acceptance, Agreement, Campaign, Recipient


@admin.action(description="Send reminders", permissions=["send_reminders"])
def send_reminders(modeladmin, request, queryset):
    """One background campaign per selected agreement; progress on the dashboard."""
    from campaigns.services import CampaignAlreadyRunning, campaign_start
    from realtime_site.api import ApiError

    for agreement in queryset:
        try:
            job = campaign_start(owner_id=request.user.pk, agreement_id=agreement.pk)
        except CampaignAlreadyRunning:
            modeladmin.message_user(request, f"{agreement}: a campaign is already running.",
                                    messages.WARNING)
            continue
        except ApiError as exc:  # shutting down, too many active jobs
            modeladmin.message_user(request, str(exc), messages.WARNING)
            return
        modeladmin.message_user(request, format_html(
            "“{}” started; follow it on <a href=\"{}\">the dashboard</a>.", job.title,
            reverse("dashboard")),
            messages.SUCCESS)


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "version", "updated_at")
    prepopulated_fields = {"slug": ("title",)}
    actions = [send_reminders]
    search_fields = ("title", "slug")

    def has_send_reminders_permission(self, request):
        """The action is listed only for who may send reminder campaigns."""
        from campaigns.permissions import may_send_reminders

        return may_send_reminders(request.user)


@admin.register(Acceptance)
class AcceptanceAdmin(admin.ModelAdmin):
    list_display = ("user", "agreement", "version", "accepted_at")
    list_filter = ("agreement",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)
    list_select_related = ("user", "agreement")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("job", "agreement", "agreement_version", "summary_sent_at")
    raw_id_fields = ("job", "summary_mail")
    list_select_related = ("job", "agreement")


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "attempts", "maybe_duplicate", "error", "finished_at")
    list_filter = ("status", "retryable", "maybe_duplicate")
    search_fields = ("email",)
    raw_id_fields = ("job", "user", "mail")
