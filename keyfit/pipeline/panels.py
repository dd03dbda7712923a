"""Extension point of the opportunity page: other apps add panels (value case, plans…).

An app registers, in its AppConfig.ready()::

    from keyfit.pipeline.panels import register_opportunity_panel

    def value_panel(request, opportunity):
        return {"template": "valuecase/_opportunity_panel.html", "context": {...}}

    register_opportunity_panel("valuecase.value", value_panel, order=10)

A provider returns ``None`` to show nothing. Its template is included in the page's side column with
``opp`` and ``panel`` (read ``panel.context``). Providers read through their own app's selectors, scoped
to ``request.user``, with a bounded number of queries.
"""

from collections.abc import Callable
from typing import Any

Provider = Callable[[Any, Any], dict[str, Any] | None]
_PANELS: dict[str, tuple[int, Provider]] = {}


def register_opportunity_panel(key: str, provider: Provider, *, order: int = 100) -> None:
    _PANELS[key] = (order, provider)


def opportunity_panels(request, opportunity) -> list[dict[str, Any]]:
    panels = []
    for key, (_order, provider) in sorted(_PANELS.items(), key=lambda item: (item[1][0], item[0])):
        panel = provider(request, opportunity)
        if panel:
            panel.setdefault("key", key)
            panel.setdefault("context", {})
            panels.append(panel)
    return panels
