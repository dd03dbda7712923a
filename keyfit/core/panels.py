"""Page extension points: a registry of panels other apps contribute to a record's page.

A provider ``provider(request, obj) -> dict | None`` returns ``{"template": ..., "context": {...}}`` (and
optionally ``"title"``) or ``None`` to show nothing; panels come out in ``order``, then key.
"""

from collections.abc import Callable
from typing import Any

Provider = Callable[[Any, Any], dict[str, Any] | None]


class PanelRegistry:
    def __init__(self) -> None:
        self._panels: dict[str, tuple[int, Provider]] = {}

    def register(self, key: str, provider: Provider, *, order: int = 100) -> None:
        self._panels[key] = (order, provider)

    def unregister(self, key: str) -> None:
        self._panels.pop(key, None)

    def keys(self) -> list[str]:
        """The registered keys in page order (a page that loads its panels one by one lists these)."""
        return [key for key, _entry in sorted(self._panels.items(), key=lambda item: (item[1][0], item[0]))]

    def one(self, key: str, request, obj) -> dict[str, Any] | None:
        """The panel `key` for `obj` (None when it shows nothing); KeyError for an unknown key."""
        order, provider = self._panels[key]
        panel = provider(request, obj)
        if panel:
            panel.setdefault("key", key)
            panel.setdefault("order", order)
            panel.setdefault("context", {})
        return panel or None

    def collect(self, request, obj) -> list[dict[str, Any]]:
        panels = []
        for key in self.keys():
            panel = self.one(key, request, obj)
            if panel:
                panels.append(panel)
        return panels
