from django.contrib import admin

from exports.models import AccidentClaim, Car, TheftClaim, WarrantyClaim


@admin.register(Car)
class CarAdmin(admin.ModelAdmin):
    list_display = ["make", "model", "year", "plate", "vin"]
    list_filter = ["make", "year"]
    search_fields = ["plate", "vin", "make", "model"]


class ClaimAdmin(admin.ModelAdmin):
    list_display = ["number", "customer_name", "car", "amount", "status", "created_at"]
    list_filter = ["status", "created_at", "car__make"]
    search_fields = ["number", "customer_name", "customer_email", "car__plate", "car__vin"]
    list_select_related = ["car"]
    raw_id_fields = ["car"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over a million rows on every page is wasted work


@admin.register(AccidentClaim)
class AccidentClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "occurred_at", "police_involved"]


@admin.register(TheftClaim)
class TheftClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "stolen_at", "recovered"]


@admin.register(WarrantyClaim)
class WarrantyClaimAdmin(ClaimAdmin):
    list_display = [*ClaimAdmin.list_display, "part", "mileage_km"]
