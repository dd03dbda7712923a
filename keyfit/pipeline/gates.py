"""Gate requirements: named checks of an opportunity, registered in code and demanded by data.

``register_requirement(code, label, check)`` adds (or replaces) one requirement; ``check(opportunity)``
returns ``(ok, detail)`` where ``ok`` is True, False, or None for "not available" (a requirement whose
real check is not installed yet, which fails the gate). Admins choose per stage which requirements are
demanded to enter it and to leave it forward (``StageRequirement`` rows).

Other apps register their checks in their AppConfig.ready(), e.g. the value case app::

    from keyfit.pipeline.gates import register_requirement
    register_requirement("value_case_acknowledged", _("Value case acknowledged by the customer"), check)
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

Check = Callable[[Any], tuple[bool | None, str]]


@dataclass(frozen=True)
class Requirement:
    code: str
    label: Any
    check: Check


_REGISTRY: dict[str, Requirement] = {}


def register_requirement(code: str, label: Any, check: Check) -> None:
    _REGISTRY[code] = Requirement(code=code, label=label, check=check)


def _register_default(code: str, label: Any, check: Check) -> None:
    """Seed a requirement without replacing a check another app registered first."""
    _REGISTRY.setdefault(code, Requirement(code=code, label=label, check=check))


def get_requirement(code: str) -> Requirement | None:
    return _REGISTRY.get(code)


def requirement_choices() -> list[tuple[str, str]]:
    return [(code, str(req.label)) for code, req in sorted(_REGISTRY.items())]


def evaluate(code: str, opportunity) -> dict[str, Any]:
    """One requirement's result as ``{"code", "label", "ok", "detail"}``; unknown codes are not available."""
    requirement = _REGISTRY.get(code)
    if requirement is None:
        return {"code": code, "label": code, "ok": None, "detail": str(_("This requirement is not available."))}
    try:
        ok, detail = requirement.check(opportunity)
    except Exception as exc:  # a broken check refuses, it never lets a deal through
        failed = _("The check failed")  # outside the f-string: makemessages does not look inside one
        ok, detail = None, f"{failed}: {exc.__class__.__name__}"
    if ok is None and not detail:
        detail = str(_("This requirement is not available."))
    return {"code": code, "label": str(requirement.label), "ok": ok, "detail": str(detail)}


def unmet(codes, opportunity) -> list[dict[str, str]]:
    """The unmet requirements among `codes` (in order, without duplicates) as code/label/detail dicts."""
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            continue
        seen.add(code)
        outcome = evaluate(code, opportunity)
        if outcome["ok"] is not True:
            result.append({"code": outcome["code"], "label": outcome["label"], "detail": outcome["detail"]})
    return result


# --- seeded requirements --------------------------------------------------------------------------


def _mne_complete(opportunity):
    missing = [
        str(label)
        for field, label in (
            ("motivation", _("Motivation")),
            ("need", _("Need")),
            ("expectations", _("Expectations")),
            ("success_criteria", _("Success criteria")),
        )
        if not (getattr(opportunity, field) or "").strip()
    ]
    if missing:
        return False, str(_("Missing: %(fields)s")) % {"fields": ", ".join(missing)}
    return True, ""


def _economic_buyer_identified(opportunity):
    from keyfit.accounts.choices import BuyingRole

    if opportunity.deal_contacts.filter(role=BuyingRole.ECONOMIC_BUYER).exists():
        return True, ""
    return False, str(_("No contact of this deal has the role economic buyer."))


def _decision_criteria_known(opportunity):
    if (opportunity.decision_criteria or "").strip():
        return True, ""
    return False, str(_("The customer's decision criteria are not recorded."))


def _feasibility_confirmed(opportunity):
    if opportunity.feasibility_confirmed:
        return True, ""
    return False, str(_("The customer has not confirmed that the proposed approach is feasible."))


def _risk_flags_cleared(opportunity):
    confirmed = []
    if opportunity.risk_only_method_confirmed:
        confirmed.append(str(_("only seeking a method")))
    if opportunity.risk_not_buying_confirmed:
        confirmed.append(str(_("not buying from us")))
    if confirmed:
        return False, str(_("Confirmed risk: %(flags)s")) % {"flags": ", ".join(confirmed)}
    return True, ""


def _value_case_not_available(opportunity):
    return None, str(_("The value case check is not installed."))


def _contract_signed(opportunity):
    if opportunity.contracts.filter(signed_on__isnull=False).exists():
        return True, ""
    return False, str(_("No signed contract is recorded for this opportunity."))


register_requirement("mne_complete", _("MNE profile complete"), _mne_complete)
register_requirement("economic_buyer_identified", _("Economic buyer identified"), _economic_buyer_identified)
register_requirement("decision_criteria_known", _("Decision criteria known"), _decision_criteria_known)
register_requirement(
    "feasibility_confirmed_by_customer", _("Feasibility confirmed by the customer"), _feasibility_confirmed
)
register_requirement("risk_flags_cleared", _("No confirmed risk flags"), _risk_flags_cleared)
register_requirement("value_case_acknowledged", _("Value case acknowledged by the customer"), _value_case_not_available)
register_requirement("contract_signed", _("Contract signed"), _contract_signed)
