from django.contrib import admin

from keyfit.pipeline.models import (
    Contract,
    LostReason,
    PipelineSettings,
    Question,
    Stage,
    StageChange,
    StageRequirement,
)


class StageRequirementInline(admin.TabularInline):
    model = StageRequirement
    extra = 1


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "name_zh_hans",
        "position",
        "kind",
        "default_probability",
        "forecast_category",
        "active",
    )
    list_editable = ("position", "default_probability", "forecast_category", "active")
    inlines = [StageRequirementInline]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh_hans", "position", "active")
    list_editable = ("position", "active")


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh_hans", "category", "meddpicc", "position", "active")
    list_filter = ("category", "meddpicc", "active")
    list_editable = ("position", "active")


@admin.register(PipelineSettings)
class PipelineSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "meddpicc_enabled")


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    """Read-only: the stage history is append-only."""

    list_display = ("opportunity", "from_stage", "to_stage", "actor", "at", "seconds_in_previous", "override")
    list_select_related = ("opportunity", "from_stage", "to_stage", "actor")
    raw_id_fields = ("opportunity",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("account", "opportunity", "start_date", "end_date", "annual_recurring_value", "currency")
    raw_id_fields = ("account", "opportunity")
