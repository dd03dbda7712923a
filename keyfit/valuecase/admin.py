from django.contrib import admin

from keyfit.valuecase.models import CostItem, Driver, MentalItem, Rating, ValueCase


class DriverInline(admin.TabularInline):
    model = Driver
    extra = 0


class CostInline(admin.TabularInline):
    model = CostItem
    extra = 0


class RatingInline(admin.TabularInline):
    model = Rating
    extra = 0
    raw_id_fields = ("contact",)


class ItemInline(admin.TabularInline):
    model = MentalItem
    extra = 0


@admin.register(ValueCase)
class ValueCaseAdmin(admin.ModelAdmin):
    """Read-only inspection; every change goes through the services (versions, audit, gate)."""

    list_display = ("opportunity", "number", "state", "net_value", "compliance_flag", "updated_at")
    list_filter = ("state", "compliance_flag")
    search_fields = ("opportunity__name", "opportunity__account__name")
    inlines = (DriverInline, CostInline, RatingInline, ItemInline)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
