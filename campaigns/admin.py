import uuid

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


class CampaignFilter(admin.SimpleListFilter):
    """Recipients of one campaign (`?campaign=<job id>`): the latest campaigns are offered;
    any campaign's id works in the URL (the link from the campaign list)."""

    title = "campaign"
    parameter_name = "campaign"
    OFFERED = 30

    def lookups(self, request, model_admin):
        latest = (Campaign.objects.select_related("job").order_by("-job__created_at")
                  [:self.OFFERED])
        return [(str(c.pk), f"{c.job.title} · {c.job.created_at:%Y-%m-%d %H:%M}")
                for c in latest]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:  # a hand-typed or cut id lists nothing, never an error page
            key = uuid.UUID(str(value))
        except ValueError:
            return queryset.none()
        return queryset.filter(job_id=key)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("job", "agreement", "agreement_version", "recipient_list",
                    "summary_sent_at")
    raw_id_fields = ("job", "summary_mail")
    list_select_related = ("job", "agreement")

    @admin.display(description="recipients")
    def recipient_list(self, obj):
        url = reverse("admin:campaigns_recipient_changelist")
        return format_html('<a href="{}?campaign={}">recipients</a>', url, obj.pk)


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "attempts", "maybe_duplicate", "error", "finished_at")
    list_filter = (CampaignFilter, "status", "retryable", "maybe_duplicate")
    search_fields = ("email",)
    raw_id_fields = ("job", "user", "mail")
