"""Admin screens for the lead configuration: ICP fit rules, routing rules and teams, calendars, forms."""

from django.contrib import admin

from keyfit.leads.models import (
    CalendarException,
    DisqualifyReason,
    FitRule,
    Lead,
    RoutingDecision,
    RoutingMember,
    RoutingRule,
    RoutingTeam,
    ScreeningPolicy,
    ValueThreshold,
    WebForm,
    WorkingCalendar,
)


@admin.register(DisqualifyReason)
class DisqualifyReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_zh_hans", "position", "active"]
    list_editable = ["position", "active"]


@admin.register(FitRule)
class FitRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "field", "operator", "value", "points", "position", "active"]
    list_editable = ["points", "position", "active"]


class RoutingMemberInline(admin.TabularInline):
    model = RoutingMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(RoutingTeam)
class RoutingTeamAdmin(admin.ModelAdmin):
    list_display = ["team", "strategy", "sla_minutes", "calendar", "reassign_on_breach"]
    inlines = [RoutingMemberInline]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "routing_team", "active"]
    list_editable = ["position", "active"]


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(WorkingCalendar)
class WorkingCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "day_start", "day_end"]
    inlines = [CalendarExceptionInline]


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    list_display = ["slug", "title_en", "source", "campaign", "route_on_submit", "active"]


admin.site.register(ScreeningPolicy)
admin.site.register(ValueThreshold)


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["id", "contact_name", "company_name", "status", "owner", "priority", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["email_normalized", "company_domain", "company_name"]
    raw_id_fields = ["owner", "merged_into", "converted_account", "converted_contact", "web_form"]
    show_full_result_count = False


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = ["at", "lead", "kind", "reason"]
    raw_id_fields = ["lead"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
