"""The opportunity page's "Renewals and expansions" panel: the deals that follow this one (its renewals and
expansions, newest first) and, once the deal is won, buttons that start the next one pre-filled."""

from django.utils.translation import gettext_lazy as _

from keyfit.core.permissions import can_write
from keyfit.pipeline.choices import PreviousLink, StageKind

PANEL_LIMIT = 20
START_LINKS = ((PreviousLink.RENEWAL, _("Start a renewal")), (PreviousLink.EXPANSION, _("Start an expansion")))


def follow_up_panel(request, opportunity):
    from keyfit.pipeline.permissions import visible_opportunities

    follow_ups = list(
        visible_opportunities(request.user)
        .filter(previous_id=opportunity.pk)
        .select_related("stage")
        .only(
            "id", "name", "amount", "currency", "previous_link", "created_at", "stage__name_en", "stage__name_zh_hans"
        )
        .order_by("-created_at", "-id")[:PANEL_LIMIT]
    )
    startable = opportunity.stage.kind in (StageKind.WON, StageKind.SUCCESS) and can_write(request.user)
    if not follow_ups and not startable:
        return None
    return {
        "template": "pipeline/_follow_ups_panel.html",
        "context": {"follow_ups": follow_ups, "startable": startable, "links": START_LINKS},
    }
