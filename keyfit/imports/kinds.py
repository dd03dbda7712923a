"""What can be imported and exported: one entry per kind of record, built from the models themselves.

A kind knows its model, which of its fields a file may set, how records are scoped (owner/team, or via
the account), the custom-field target, the extra rules the forms apply on top of the model (e-mail
format of leads), the dedupe normalisers, and the domain service of the slow path. Kinds whose app has
not landed yet are simply not available.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

# Fields no file sets: bookkeeping, workflow state owned by services, relations resolved otherwise.
_ALWAYS_EXCLUDED = {"id", "version", "updated_at", "custom_fields", "owner", "team"}


@dataclass
class Kind:
    name: str
    label: Any
    model_label: str
    custom_target: str | None = None
    owner_field: str | None = "owner"
    team_field: str | None = "team"
    account_field: str | None = None  # FK to accounts.Account resolved by external id or name
    scope_prefix: str = ""
    exclude: set[str] = field(default_factory=set)
    extra_validators: dict[str, list[Callable]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    normalize: Callable[[dict[str, Any]], None] | None = None
    natural_keys: tuple[str, ...] = ("external_id",)
    slow_service: str = ""  # dotted path of the domain service for the slow path
    cleaner: str = ""  # dotted path of the app's own validation function: (data, existing=obj) -> values
    batch_cleaner: str = ""  # the same rules for many rows at once: (rows, existing=[obj…]) -> [(values, errors)…]
    writable: str = ""  # dotted path of the set of field names the app's services accept
    extra_specials: tuple[str, ...] = ()  # e.g. "stage" (by code or name)
    prepare_rules: tuple[str, str] | None = None  # the app's (prepare(instance, fields), rules(instance))
    default_key: str | None = None  # upsert key when the mapping names none and there is no external id
    needs_external_id: bool = False  # only importable (idempotently) once the model has an external id
    export_lookups: dict[str, str] = field(default_factory=dict)  # extra special column → ORM lookup to export

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def available(self) -> bool:
        try:
            model = apps.get_model(self.model_label)
        except LookupError:
            return False
        if self.needs_external_id:
            return any(f.name == "external_id" for f in model._meta.concrete_fields)
        return True

    def importable_fields(self) -> dict[str, models.Field]:
        writable = _dotted(self.writable) if self.writable else None
        result = {}
        for f in self.model._meta.concrete_fields:
            if f.primary_key or f.name in _ALWAYS_EXCLUDED or f.name in self.exclude:
                continue
            if f.is_relation or isinstance(f, models.JSONField) or not f.editable:
                continue
            if writable is not None and f.name not in writable:
                continue
            result[f.name] = f
        return result

    def special_fields(self) -> list[str]:
        names = []
        if self.owner_field:
            names.append("owner_email")
        if self.account_field:
            names += ["account_external_id", "account_name"]
        return names + list(self.extra_specials)

    def visible(self, user):
        from keyfit.core.permissions import scope_q

        return self.model.objects.filter(scope_q(user, prefix=self.scope_prefix))

    def editable(self, user):
        from keyfit.core.permissions import scope_q

        return self.model.objects.filter(scope_q(user, prefix=self.scope_prefix, write=True))


def _dotted(path: str):
    """The object at a dotted path, or None when its app has not landed."""
    from importlib import import_module

    module_name, attr = path.rsplit(".", 1)
    try:
        return getattr(import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None


def _lead_normalize(data: dict[str, Any]) -> None:
    from keyfit.imports import dedupe

    if "email" in data:
        data["email_normalized"] = dedupe.normalize_email(data["email"])
    if "phone" in data:
        data["phone_normalized"] = dedupe.normalize_phone(data["phone"])
    if data.get("company_domain"):
        data["company_domain"] = dedupe.normalize_domain(data["company_domain"]) or data["company_domain"]
    elif data.get("email") and not data.get("company_domain"):
        domain = dedupe.email_domain(data["email"])
        if domain:
            data["company_domain"] = domain


KINDS: dict[str, Kind] = {
    "account": Kind(
        "account",
        _("Accounts"),
        "accounts.Account",
        custom_target="account",
        exclude={"domain"},
        prepare_rules=("keyfit.accounts.services._prepare_account", "keyfit.accounts.services._account_rules"),
        slow_service="keyfit.accounts.services.account_create",
    ),
    "contact": Kind(
        "contact",
        _("Contacts"),
        "accounts.Contact",
        custom_target="contact",
        owner_field=None,
        team_field=None,
        account_field="account",
        scope_prefix="account__",
        prepare_rules=("keyfit.accounts.services._prepare_contact", "keyfit.accounts.services._contact_rules"),
        slow_service="keyfit.accounts.services.contact_create",
    ),
    "lead": Kind(
        "lead",
        _("Leads"),
        "leads.Lead",
        custom_target="lead",
        exclude={
            "email_normalized",
            "phone_normalized",
            "screen1_result",
            "screen1_at",
            "screen2_result",
            "screen2_at",
            "fit_score",
            "assigned_at",
            "first_touch_at",
            "sla_due_at",
            "sla_breached_at",
            "converted_at",
            "converted_opportunity_ref",
            "created_at",
        },
        defaults={"source": "import"},
        normalize=_lead_normalize,
        natural_keys=("external_id", "email"),
        slow_service="keyfit.leads.services.lead_create",
        cleaner="keyfit.leads.services._clean",
        batch_cleaner="keyfit.leads.services.clean_many",
        writable="keyfit.leads.services.WRITABLE",
    ),
    "opportunity": Kind(
        "opportunity",
        _("Opportunities"),
        "pipeline.Opportunity",
        custom_target="opportunity",
        account_field="account",
        exclude={
            "stage_entered_at",
            "computed_probability",
            "forecast_category",
            "previous_link",
            "source_lead_id",
            "created_at",
        },
        extra_specials=("stage", "lost_reason"),
        export_lookups={"stage": "stage__code", "lost_reason": "lost_reason__code"},
        natural_keys=("external_id", "name"),
        default_key="name",
        slow_service="keyfit.pipeline.services.opportunity_create",
    ),
    "activity": Kind(
        "activity",
        _("Activities"),
        "pipeline.Activity",
        account_field="account",
        extra_specials=("opportunity_external_id",),
        export_lookups={"opportunity_external_id": "opportunity__external_id"},
        slow_service="keyfit.pipeline.services.activity_create",
        needs_external_id=True,
    ),
    # Append-only history: rows are inserted for an opportunity found by its external id, never updated.
    "stage_change": Kind(
        "stage_change",
        _("Stage history"),
        "pipeline.StageChange",
        owner_field=None,
        team_field=None,
        scope_prefix="opportunity__",
        exclude={"seconds_in_previous", "override"},
        extra_specials=("opportunity_external_id", "from_stage", "to_stage", "actor_email"),
        export_lookups={
            "opportunity_external_id": "opportunity__external_id",
            "from_stage": "from_stage__code",
            "to_stage": "to_stage__code",
            "actor_email": "actor__email",
        },
        needs_external_id=True,
    ),
    "contract": Kind(
        "contract",
        _("Contracts"),
        "pipeline.Contract",
        team_field=None,
        owner_field=None,
        scope_prefix="account__",
        exclude={"created_at"},
        extra_specials=("opportunity_external_id",),
        export_lookups={"opportunity_external_id": "opportunity__external_id"},
        slow_service="keyfit.pipeline.services.contract_record",
        needs_external_id=True,
    ),
}


def get_kind(name: str) -> Kind:
    from keyfit.core.errors import ValidationFailed

    kind = KINDS.get(name)
    if kind is None or not kind.available:
        raise ValidationFailed(fields={"kind": [_("Unknown or unavailable kind “%(kind)s”.") % {"kind": name}]})
    return kind


def available_kinds() -> list[Kind]:
    return [k for k in KINDS.values() if k.available]
