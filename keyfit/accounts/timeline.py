"""Extension point of the account page: other apps add panels (pipeline activities, plans…).

An app registers, in its AppConfig.ready()::

    from keyfit.accounts.timeline import register_account_panel

    def opportunities_panel(request, account):
        return {"title": _("Activities"), "template": "pipeline/_account_activities.html",
                "context": {"activities": activities_for_account(request.user, account)}}

    register_account_panel("pipeline.activities", opportunities_panel, order=20)

A provider returns ``None`` to show nothing. Panels appear beside the audit timeline, in ``order``; the
panel's template is included with ``account`` and ``panel`` (so it reads ``panel.context.activities``).
Providers must read through their own app's selectors (scoped to ``request.user``) and keep a bounded
number of queries.
"""

from collections.abc import Callable
from typing import Any

Provider = Callable[[Any, Any], dict[str, Any] | None]
_PANELS: dict[str, tuple[int, Provider]] = {}


def register_account_panel(key: str, provider: Provider, *, order: int = 100) -> None:
    _PANELS[key] = (order, provider)


def account_panels(request, account) -> list[dict[str, Any]]:
    panels = []
    for key, (order, provider) in sorted(_PANELS.items(), key=lambda item: (item[1][0], item[0])):
        panel = provider(request, account)
        if panel:
            panel.setdefault("key", key)
            panel.setdefault("order", order)
            panel.setdefault("context", {})
            panels.append(panel)
    return panels
