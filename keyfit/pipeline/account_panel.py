"""The pipeline's panel on the account page: the account's visible opportunities and their history."""

from django.utils.translation import gettext_lazy as _

PANEL_LIMIT = 20


def account_pipeline_panel(request, account):
    from keyfit.pipeline.selectors import account_opportunities, account_pipeline_timeline

    opportunities = list(account_opportunities(request.user, account)[:PANEL_LIMIT])
    entries = account_pipeline_timeline(request.user, account, limit=PANEL_LIMIT)
    if not opportunities and not entries:
        return None
    return {
        "title": _("Opportunities and activities"),
        "template": "pipeline/_account_panel.html",
        "context": {"opportunities": opportunities, "entries": entries},
    }
