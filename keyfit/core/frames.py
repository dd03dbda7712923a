"""Page frames rendered once per language and process, filled per request.

A part of a page that depends only on the active language and a few switches (a list's filter form,
toolbar and table head: tens of template nodes, `{% url %}` and `{% translate %}` tags) is rendered once
with markers in its variable places — the template reads them as `{{ slot.<name> }}` — and then filled per
request by joining strings. Every slot value must be escaped text or ready-made safe HTML; the frame
template must not read the request (no `{% csrf_token %}`: pass the token as a slot, see csrf_input).
"""

import html

from django.conf import settings
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

_SLOT_MARK = "\x00"
_PARTS: dict[tuple, list[str]] = {}


# Stand-ins for integer slots (ids in links: `{% url 'name' pk %}` needs an integer to reverse).
_NUMBER_BASE = 987_654_321_000


def _parts(template_name: str, switches: dict, names, numbers: tuple[str, ...]) -> list[str]:
    key = (template_name, get_language(), *sorted(switches.items()))
    parts = None if settings.DEBUG else _PARTS.get(key)  # while developing, template edits show at once
    if parts is None:
        marks = {name: mark_safe(f"{_SLOT_MARK}{name}{_SLOT_MARK}") for name in names}
        stand_ins = {name: _NUMBER_BASE + i for i, name in enumerate(numbers)}
        text = get_template(template_name).render({**switches, **stand_ins, "slot": marks})
        for name, number in stand_ins.items():
            text = text.replace(str(number), f"{_SLOT_MARK}{name}{_SLOT_MARK}")
        parts = _PARTS[key] = text.split(_SLOT_MARK)
    return parts


def fill(template_name: str, switches: dict, slots: dict[str, str], numbers: tuple[str, ...] = ()) -> SafeString:
    """`template_name` rendered with `switches` (and the active language), `slots` in their places. The
    slots named in `numbers` are integers the template reads as plain variables (`{{ pk }}`, `{% url … pk
    %}`); their slot value is the integer's text. Switches must be hashable (they key the kept frame)."""
    parts = _parts(template_name, switches, slots, numbers)
    return mark_safe("".join(slots[part] if i % 2 else part for i, part in enumerate(parts)))  # slots are safe


def csrf_input(request) -> str:
    """What `{% csrf_token %}` writes, for a slot."""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{html.escape(get_token(request))}">'
