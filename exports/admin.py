from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import SEARCH_VAR
from django.urls import reverse
from django.utils.html import format_html

from exports.models import AccidentClaim, Car, TheftClaim, WarrantyClaim


@admin.register(Car)
class CarAdmin(admin.ModelAdmin):
    list_display = ["make", "model", "year", "plate", "vin"]
    list_filter = ["make", "year"]
    search_fields = ["plate", "vin", "make", "model"]


@admin.action(description="Export to Excel in the background", permissions=["export"])
def export_in_background(modeladmin, request, queryset):
    """Export what the changelist shows: its filters go to the job, not a list of ids."""
    from exports.registry import EXPORT_TYPES
    from exports.services import ExportInvalid, export_start
    from realtime_site.api import ApiError

    if request.GET.get(SEARCH_VAR):
        modeladmin.message_user(request, "The export applies the filters, not the search box: "
                                "clear the search and use the filters.", messages.WARNING)
        return
    entry = next((t for t in EXPORT_TYPES.values() if t.model is modeladmin.model), None)
    if entry is None:  # a claim model registered in the admin but not in exports.registry
        modeladmin.message_user(request, f"{modeladmin.model._meta.verbose_name_plural} "
                                "cannot be exported: no export type lists them.", messages.ERROR)
        return
    changelist = modeladmin.get_changelist_instance(request)
    filters = {key: ",".join(values) if key.endswith("__in") else values[-1]
               for key, values in changelist.get_filters_params().items()}
    try:
        job = export_start(owner_id=request.user.pk, claim_type=entry.key, fmt="xlsx",
                           filters=filters)
    except ExportInvalid as exc:
        modeladmin.message_user(request, f"Cannot export this list: {exc}", messages.ERROR)
        return
    except ApiError as exc:  # shutting down, too many active jobs
        modeladmin.message_user(request, str(exc), messages.WARNING)
        return
    modeladmin.message_user(request, format_html(
        "“{}” started; follow it on <a href=\"{}\">the dashboard</a> or wait for the "
        "notice on this page.", job.title, reverse("dashboard")), messages.SUCCESS)


class ClaimAdmin(admin.ModelAdmin):
    actions = [export_in_background]
    list_display = ["number", "customer_name", "car", "amount", "status", "created_at"]
    list_filter = ["status", "created_at", "car__make"]
    search_fields = ["number", "customer_name", "customer_email", "car__plate", "car__vin"]
    list_select_related = ["car"]

    def has_export_permission(self, request):
        """The action is listed only for who may export this claim type (`view` + `export`)."""
        from exports.permissions import may_export
        from exports.registry import EXPORT_TYPES

        entry = next((t for t in EXPORT_TYPES.values() if t.model is self.model), None)
        return entry is not None and may_export(request.user, entry)
    raw_id_fields = ["car"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over a million rows on every page is wasted work

    def changelist_view(self, request, extra_context=None):
        # The export acts on the filtered list, so it needs no ticked rows: without a
        # selection, act on "all matching" (select_across) instead of refusing.
        if (request.method == "POST" and request.POST.get("action") == "export_in_background"
                and not request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, ["0"])
            post["select_across"] = "1"
            request.POST = post
        return super().changelist_view(request, extra_context)


@admin.register(AccidentClaim)
class AccidentClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "occurred_at", "police_involved"]


@admin.register(TheftClaim)
class TheftClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "stolen_at", "recovered"]


@admin.register(WarrantyClaim)
class WarrantyClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "part", "mileage_km"]
