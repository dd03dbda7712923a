"""Custom fields: admin-defined, validated by one service used by forms, the API and imports."""

import datetime
import decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from keyfit.core.errors import ValidationFailed
from keyfit.core.kept import KeptByToken
from keyfit.core.models import CustomFieldDefinition

# Every lead intake validates its custom fields against the active definitions, which change rarely: each
# process keeps them per target under a version token (keyfit.core.kept), as the team tree is kept.
DEFINITIONS_VERSION_KEY = "core:customfields:version"
DEFINITIONS_TTL = 300  # seconds
_definitions = KeptByToken(DEFINITIONS_VERSION_KEY, DEFINITIONS_TTL)  # {target: definitions}


def custom_field_definitions(target: str) -> list[CustomFieldDefinition]:
    """The active definitions of `target` in order (kept per process; treat them as read-only)."""
    token, kept = _definitions.get()
    kept = kept or {}
    rows = kept.get(target)
    if rows is None:
        rows = tuple(CustomFieldDefinition.objects.filter(target=target, active=True).order_by("position", "id"))
        _definitions.keep(token, {**kept, target: rows})
    return list(rows)


def forget_definitions(**kwargs) -> None:
    """A new definitions token: every process reads the definitions again on its next intake."""
    _definitions.forget()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(forget_definitions, sender=CustomFieldDefinition, dispatch_uid="core-customfields-save")
    post_delete.connect(forget_definitions, sender=CustomFieldDefinition, dispatch_uid="core-customfields-delete")


def _choice_values(definition: CustomFieldDefinition) -> set[str]:
    return {str(c.get("value")) for c in definition.choices or []}


def _clean_one(definition: CustomFieldDefinition, value: Any) -> Any:
    kind = definition.field_type
    T = CustomFieldDefinition.Type
    if kind == T.TEXT:
        text = str(value)
        if len(text) > definition.max_length:
            raise ValueError(_("At most %(n)d characters.") % {"n": definition.max_length})
        return text
    if kind in (T.NUMBER, T.MONEY):
        try:
            number = decimal.Decimal(str(value))
        except (decimal.InvalidOperation, ValueError) as exc:
            raise ValueError(_("Enter a number.")) from exc
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return str(number.quantize(decimal.Decimal("0.01"))) if kind == T.MONEY else str(number)
    if kind == T.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc
    if kind == T.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "y", "是"}:
            return True
        if text in {"0", "false", "no", "n", "否"}:
            return False
        raise ValueError(_("Enter yes or no."))
    if kind == T.CHOICE:
        if str(value) not in _choice_values(definition):
            raise ValueError(_("“%(value)s” is not one of the allowed choices.") % {"value": value})
        return str(value)
    if kind == T.MULTI_CHOICE:
        values = value if isinstance(value, list | tuple) else [v for v in str(value).split(",") if v.strip()]
        allowed = _choice_values(definition)
        unknown = [str(v) for v in values if str(v).strip() not in allowed]
        if unknown:
            raise ValueError(_("“%(value)s” is not one of the allowed choices.") % {"value": ", ".join(unknown)})
        return [str(v).strip() for v in values]
    raise ValueError(_("Unknown field type."))


def custom_fields_clean(
    target: str,
    values: dict[str, Any] | None,
    *,
    existing: dict[str, Any] | None = None,
    partial: bool = False,
    field_prefix: str = "custom_fields.",
    definitions: list[CustomFieldDefinition] | None = None,
) -> dict[str, Any]:
    """Validate `values` against the active definitions of `target`; raise ValidationFailed per field.

    Unknown keys are rejected. With ``partial`` the keys not given keep their existing values.
    """
    values = dict(values or {})
    definitions = definitions if definitions is not None else custom_field_definitions(target)
    by_key = {d.key: d for d in definitions}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = dict(existing or {}) if partial else {}
    for key in values:
        if key not in by_key:
            errors[f"{field_prefix}{key}"] = [_("Unknown custom field.")]
    for key, definition in by_key.items():
        if key not in values:
            if partial and key in cleaned:
                continue
            if definition.required:
                errors[f"{field_prefix}{key}"] = [_("This field is required.")]
            continue
        value = values[key]
        if value is None or value == "" or value == []:
            if definition.required:
                errors[f"{field_prefix}{key}"] = [_("This field is required.")]
            cleaned.pop(key, None)
            continue
        try:
            cleaned[key] = _clean_one(definition, value)
        except ValueError as exc:
            errors[f"{field_prefix}{key}"] = [str(exc)]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def custom_form_fields(target: str, initial: dict[str, Any] | None = None) -> dict[str, forms.Field]:
    """Django form fields named ``cf_<key>`` for the active definitions of `target`."""
    T = CustomFieldDefinition.Type
    initial = initial or {}
    fields: dict[str, forms.Field] = {}
    for d in custom_field_definitions(target):
        common = {"label": d.label, "required": d.required, "initial": initial.get(d.key)}
        if d.field_type == T.TEXT:
            field: forms.Field = forms.CharField(max_length=d.max_length, **common)
        elif d.field_type in (T.NUMBER, T.MONEY):
            field = forms.DecimalField(**common)
        elif d.field_type == T.DATE:
            field = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        elif d.field_type == T.BOOLEAN:
            common["required"] = False
            field = forms.BooleanField(**common)
        else:
            from keyfit.core.models import localized

            options = [(str(c.get("value")), localized(_Choice(c), "label")) for c in d.choices or []]
            if d.field_type == T.CHOICE:
                field = forms.ChoiceField(choices=[("", "—"), *options], **common)
            else:
                field = forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
        fields[f"cf_{d.key}"] = field
    return fields


class _Choice:
    def __init__(self, data: dict[str, Any]) -> None:
        self.label_en = data.get("label_en") or str(data.get("value"))
        self.label_zh_hans = data.get("label_zh_hans") or ""


def custom_values_from_form(cleaned_data: dict[str, Any]) -> dict[str, Any]:
    return {k[3:]: v for k, v in cleaned_data.items() if k.startswith("cf_")}


def custom_field_display(
    target: str, values: dict[str, Any], *, definitions: list[CustomFieldDefinition] | None = None
) -> list[tuple[str, Any]]:
    """(label, shown value) pairs for a record's detail page (`definitions`: the target's active
    definitions when the caller already has them)."""
    rows = []
    if not values:
        return rows
    for d in definitions if definitions is not None else custom_field_definitions(target):
        if d.key in (values or {}):
            value = values[d.key]
            if d.field_type in (CustomFieldDefinition.Type.CHOICE, CustomFieldDefinition.Type.MULTI_CHOICE):
                from keyfit.core.models import localized

                labels = {str(c.get("value")): localized(_Choice(c), "label") for c in d.choices or []}
                items = value if isinstance(value, list) else [value]
                value = ", ".join(labels.get(str(v), str(v)) for v in items)
            rows.append((d.label, value))
    return rows
