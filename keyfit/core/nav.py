"""Navigation registry: each app registers its top-level pages in its AppConfig.ready()."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Any  # lazy translation
    url_name: str
    order: int = 100
    roles: tuple[str, ...] = ()  # empty: every signed-in user


_ITEMS: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    _ITEMS[item.key] = item


def nav_items() -> list[NavItem]:
    return sorted(_ITEMS.values(), key=lambda i: (i.order, i.key))
