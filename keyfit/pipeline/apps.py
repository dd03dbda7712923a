from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "keyfit.pipeline"
    label = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from keyfit.accounts.timeline import register_account_panel
        from keyfit.core.nav import NavItem, register_nav
        from keyfit.pipeline import (
            gates,  # noqa: F401  (registers the seeded gate requirements)
            lookups,
            summary,
        )
        from keyfit.pipeline.account_panel import account_pipeline_panel
        from keyfit.pipeline.follow_ups import follow_up_panel
        from keyfit.pipeline.panels import register_opportunity_panel

        summary.connect()
        lookups.connect()
        _connect_saved_views()

        register_account_panel("pipeline", account_pipeline_panel, order=10)
        register_opportunity_panel("pipeline.follow_ups", follow_up_panel, order=50)
        register_nav(NavItem("pipeline", _("Pipeline"), "pipeline:board", order=30))
        register_nav(NavItem("opportunities", _("Opportunities"), "pipeline:list", order=31))
        register_nav(NavItem("my_activities", _("My activities"), "pipeline:my_activities", order=32))


def _connect_saved_views() -> None:
    from django.db.models.signals import post_delete, post_save

    from keyfit.core.models import SavedView
    from keyfit.pipeline.views import forget_saved_views

    post_save.connect(forget_saved_views, sender=SavedView, dispatch_uid="pipeline-saved-views-save")
    post_delete.connect(forget_saved_views, sender=SavedView, dispatch_uid="pipeline-saved-views-delete")
