"""The mapping of a file's columns to fields: JSON format, validation against a kind, and presets.

Format (docs/imports.md)::

    {"kind": "lead", "delimiter": ";", "encoding": "gb18030",
     "columns": {"E-mail": "email",
                 "Source": {"field": "source", "values": {"google": "web_form", "Select": ""}},
                 "Budget": {"field": "custom.budget"}, "Notes": null},
     "empty_values": ["Select"], "date_format": "%d/%m/%Y", "currency": "CNY",
     "external_id": {"row_number_prefix": "UCI-"}, "key": "external_id",
     "custom_fields": [{"key": "budget", "label_en": "Budget", "field_type": "number"}],
     "route": false}
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from keyfit.core.errors import ValidationFailed
from keyfit.imports.kinds import Kind

MAPPING_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "mappings"


@dataclass
class Rule:
    column: str
    index: int
    target: str  # "field" | "custom" | "special"
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    values_folded: dict[str, Any] = field(default_factory=dict)
    date_format: str = ""
    on_unknown: str = "reject"  # or "empty"
    template: str = ""  # e.g. "Lead {value}"


@dataclass
class Compiled:
    kind: Kind
    header: list[str]
    rules: list[Rule]
    empty_values: set[str]
    key: str | None
    row_number_prefix: str | None
    date_format: str
    currency: str
    route: bool
    raw: dict[str, Any]
    constants: dict[str, Any] = field(default_factory=dict)


def _norm(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def load_mapping(source: str | Path | dict | None) -> dict[str, Any]:
    """A mapping from a dict, a JSON string or a JSON file path."""
    if source is None or source == "":
        return {}
    if isinstance(source, dict):
        return source
    text = str(source)
    if not text.lstrip().startswith("{"):
        text = Path(text).read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(fields={"mapping": [_("The mapping is not valid JSON: %(e)s") % {"e": exc}]}) from exc
    if not isinstance(data, dict):
        raise ValidationFailed(fields={"mapping": [_("The mapping must be a JSON object.")]})
    return data


def auto_mapping(kind: Kind, header: list[str]) -> dict[str, Any]:
    """Columns whose name is a field's name or verbose name map to it; the rest are ignored."""
    names: dict[str, str] = {}
    for name, f in kind.importable_fields().items():
        names[_norm(name)] = name
        names[_norm(name.replace("_", " "))] = name
        names[_norm(str(f.verbose_name))] = name
    for special in kind.special_fields():
        names[_norm(special)] = special
        names[_norm(special.replace("_", " "))] = special
    columns: dict[str, Any] = {}
    for column in header:
        columns[column] = names.get(_norm(column))
    return {"kind": kind.name, "columns": columns}


def compile_mapping(kind: Kind, header: list[str], mapping: dict[str, Any], *, custom_keys: set[str]) -> Compiled:
    fields = kind.importable_fields()
    specials = set(kind.special_fields())
    positions = {}
    for index, column in enumerate(header):
        positions.setdefault(column, index)
        positions.setdefault(_norm(column), index)
    lenient = bool(mapping.get("lenient"))
    errors: dict[str, list[str]] = {}
    rules: list[Rule] = []
    for column, spec in (mapping.get("columns") or {}).items():
        if spec is None or spec == "" or spec == "ignore":
            continue
        if isinstance(spec, str):
            spec = {"field": spec}
        if not isinstance(spec, dict) or not spec.get("field"):
            errors.setdefault(f"columns.{column}", []).append(_("Give a field name, an object or null."))
            continue
        index = positions.get(column, positions.get(_norm(column)))
        if index is None:
            continue  # a column the file does not have (presets list many)
        name = str(spec["field"])
        if name.startswith(("custom.", "custom:")):
            key = name[7:]
            if key not in custom_keys:
                if lenient:
                    continue
                errors.setdefault(f"columns.{column}", []).append(_("Unknown custom field “%(f)s”.") % {"f": key})
                continue
            target, name = "custom", key
        elif name in specials:
            target = "special"
        elif name in fields:
            target = "field"
        else:
            if lenient:
                continue
            errors.setdefault(f"columns.{column}", []).append(_("Unknown field “%(f)s”.") % {"f": name})
            continue
        values = {str(k): v for k, v in (spec.get("values") or {}).items()}
        rules.append(
            Rule(
                column=header[index],
                index=index,
                target=target,
                name=name,
                values=values,
                values_folded={_norm(k): v for k, v in values.items()},
                date_format=str(spec.get("date_format") or mapping.get("date_format") or ""),
                on_unknown=str(spec.get("on_unknown") or mapping.get("on_unknown") or "reject"),
                template=str(spec.get("template") or ""),
            )
        )
    generated = mapping.get("external_id")
    prefix = None
    if isinstance(generated, dict) and "row_number_prefix" in generated:
        prefix = str(generated["row_number_prefix"])
        if "external_id" not in fields:
            errors.setdefault("external_id", []).append(_("This kind has no external id."))
    constants = dict(mapping.get("constants") or {})
    for name in constants:
        if name not in fields:
            errors.setdefault(f"constants.{name}", []).append(_("Unknown field “%(f)s”.") % {"f": name})
    key = mapping.get("key")
    if key is None and (prefix is not None or any(r.name == "external_id" for r in rules)):
        key = "external_id"
    if key is None:
        key = kind.default_key
    if key and key not in fields:
        if mapping.get("lenient"):
            key = kind.default_key
        else:
            errors.setdefault("key", []).append(_("This kind has no field “%(f)s”.") % {"f": key})
    if key and key not in kind.natural_keys:
        errors.setdefault("key", []).append(_("Choose a key among: %(keys)s.") % {"keys": ", ".join(kind.natural_keys)})
    if errors:
        raise ValidationFailed(fields=errors)
    return Compiled(
        kind=kind,
        header=header,
        rules=rules,
        empty_values={_norm(v) for v in mapping.get("empty_values") or []},
        key=key or None,
        row_number_prefix=prefix,
        date_format=str(mapping.get("date_format") or ""),
        currency=str(mapping.get("currency") or ""),
        route=bool(mapping.get("route")),
        raw=mapping,
        constants=constants,
    )


def ensure_custom_fields(kind: Kind, mapping: dict[str, Any], *, actor) -> None:
    """Create the custom fields a mapping declares (admins only; others must use existing ones)."""
    from keyfit.core.models import CustomFieldDefinition
    from keyfit.core.permissions import is_admin

    declared = mapping.get("custom_fields") or []
    if not declared or not kind.custom_target:
        return
    existing = set(CustomFieldDefinition.objects.filter(target=kind.custom_target).values_list("key", flat=True))
    missing = [d for d in declared if d.get("key") not in existing]
    if not missing:
        return
    if not is_admin(actor):
        raise ValidationFailed(
            fields={"custom_fields": [_("Only an administrator can create the custom fields this mapping declares.")]}
        )
    for position, d in enumerate(missing, start=len(existing)):
        CustomFieldDefinition.objects.create(
            target=kind.custom_target,
            key=d["key"],
            label_en=d.get("label_en") or d["key"],
            label_zh_hans=d.get("label_zh_hans") or d.get("label_en") or d["key"],
            field_type=d.get("field_type") or "text",
            choices=d.get("choices") or [],
            max_length=d.get("max_length") or 500,
            position=position,
        )


# --- presets: the usual column names of Salesforce and HubSpot export files ------------------------------

_SF_INDUSTRY = {
    "Technology": "saas",
    "Communications": "saas",
    "Manufacturing": "manufacturing",
    "Retail": "retail",
    "Consumer Goods": "retail",
    "Apparel": "retail",
    "Banking": "finance",
    "Finance": "finance",
    "Insurance": "finance",
    "Healthcare": "healthcare",
    "Biotechnology": "healthcare",
    "Transportation": "logistics",
    "Shipping": "logistics",
    "Education": "education",
    "Energy": "energy",
    "Utilities": "energy",
    "Consulting": "professional",
    "Government": "government",
    "Other": "other",
}

# The default sales stages of the two systems, by label (and HubSpot's internal ids), onto keyfit's steps:
# discovery and qualification are S3 (guiding expectations), proposal and negotiation S4 (creating value).
SALESFORCE_STAGES = {
    "Prospecting": "s3_guiding",
    "Qualification": "s3_guiding",
    "Needs Analysis": "s3_guiding",
    "Value Proposition": "s4_value",
    "Id. Decision Makers": "s4_value",
    "Perception Analysis": "s4_value",
    "Proposal/Price Quote": "s4_value",
    "Negotiation/Review": "s4_value",
    "Closed Won": "won",
    "Closed Lost": "lost",
}
HUBSPOT_STAGES = {
    "Appointment Scheduled": "s3_guiding",
    "appointmentscheduled": "s3_guiding",
    "Qualified To Buy": "s3_guiding",
    "qualifiedtobuy": "s3_guiding",
    "Presentation Scheduled": "s4_value",
    "presentationscheduled": "s4_value",
    "Decision Maker Bought-In": "s4_value",
    "decisionmakerboughtin": "s4_value",
    "Contract Sent": "s4_value",
    "contractsent": "s4_value",
    "Closed Won": "won",
    "closedwon": "won",
    "Closed Lost": "lost",
    "closedlost": "lost",
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "salesforce": {
        "account": {
            "Account ID": "external_id",
            "Account Name": "name",
            "Website": "website",
            "Industry": {"field": "industry", "values": _SF_INDUSTRY, "on_unknown": "empty"},
            "Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Billing City": "city",
            "Billing State/Province": "region",
            "Account Owner Email": "owner_email",
            "Owner Email": "owner_email",
        },
        "contact": {
            "Contact ID": "external_id",
            "Account ID": "account_external_id",
            "Account Name": "account_name",
            "Full Name": "name",
            "First Name": "name",
            "Last Name": "name",
            "Title": "title",
            "Department": "department",
            "Email": "email",
            "Phone": "phone",
            "Mobile": "phone",
        },
        "lead": {
            "Lead ID": "external_id",
            "First Name": "contact_name",
            "Last Name": "contact_name",
            "Title": "contact_title",
            "Company": "company_name",
            "Email": "email",
            "Phone": "phone",
            "Industry": "industry",
            "State/Province": "region",
            "Campaign": "campaign",
            "Lead Owner Email": "owner_email",
            "Owner Email": "owner_email",
        },
        "opportunity": {
            "Opportunity ID": "external_id",
            "Opportunity Name": "name",
            "Account ID": "account_external_id",
            "Account Name": "account_name",
            "Stage": {"field": "stage", "values": SALESFORCE_STAGES},
            "Amount": "amount",
            "Opportunity Currency": "currency",
            "Close Date": "expected_close_date",
            "Loss Reason": "lost_reason",
            "Owner Email": "owner_email",
        },
    },
    "hubspot": {
        "account": {
            "Record ID": "external_id",
            "Company name": "name",
            "Company Domain Name": "website",
            "Website URL": "website",
            "Industry": {"field": "industry", "on_unknown": "empty"},
            "Number of Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "City": "city",
            "State/Region": "region",
            "Company owner": "owner_email",
        },
        "contact": {
            "Record ID": "external_id",
            "First Name": "name",
            "Last Name": "name",
            "Email": "email",
            "Phone Number": "phone",
            "Job Title": "title",
            "Associated Company": "account_name",
            "Company Name": "account_name",
        },
        "lead": {
            "Record ID": "external_id",
            "First Name": "contact_name",
            "Last Name": "contact_name",
            "Email": "email",
            "Phone Number": "phone",
            "Job Title": "contact_title",
            "Company Name": "company_name",
            "Industry": "industry",
            "State/Region": "region",
            "Contact owner": "owner_email",
        },
        "opportunity": {
            "Record ID": "external_id",
            "Deal Name": "name",
            "Deal Stage": {"field": "stage", "values": HUBSPOT_STAGES},
            "Amount": "amount",
            "Close Date": "expected_close_date",
            "Closed Lost Reason": "lost_reason",
            "Deal owner": "owner_email",
            "Associated Company": "account_name",
        },
    },
}


def preset_mapping(preset: str, kind: str) -> dict[str, Any]:
    columns = PRESETS.get(preset, {}).get(kind)
    if columns is None:
        raise ValidationFailed(fields={"preset": [_("No such preset for this kind.")]})
    return {"kind": kind, "columns": dict(columns), "lenient": True, "key": "external_id"}
