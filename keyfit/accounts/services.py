"""Writes to accounts and contacts: one set of rules for forms, the API and imports.

Every service validates with ``full_clean`` plus the custom-field definitions, checks the actor's write
scope, bumps the optimistic-locking ``version`` and appends an audit event with before/after values.
"""

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.permissions import editable_accounts, editable_contacts, visible_accounts
from keyfit.core.audit import audit_record, snapshot
from keyfit.core.customfields import custom_fields_clean
from keyfit.core.errors import Conflict, PermissionDenied, ValidationFailed
from keyfit.core.money import is_currency
from keyfit.core.permissions import _scope, can_write, is_admin
from keyfit.core.roles import Role

ACCOUNT_FIELDS = {
    "name",
    "legal_name",
    "website",
    "domain",
    "industry",
    "size_band",
    "employees",
    "annual_revenue",
    "currency",
    "country",
    "region",
    "city",
    "tier",
    "lifecycle",
    "owner",
    "owner_id",
    "team",
    "team_id",
    "parent",
    "parent_id",
    "external_id",
    "custom_fields",
}
CONTACT_FIELDS = {
    "name",
    "title",
    "department",
    "email",
    "phone",
    "wechat_id",
    "seniority",
    "buying_role",
    "relationship_strength",
    "motivations",
    "personal_kpis",
    "reports_to",
    "reports_to_id",
    "language",
    "external_id",
    "custom_fields",
}


def domain_from_website(website: str) -> str:
    """``https://www.example.com/about`` → ``example.com`` (empty when there is no host)."""
    if not website:
        return ""
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _check_fields(fields: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(unknown)}")


def _apply(instance, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "custom_fields":
            continue
        if isinstance(value, str) and name not in {"motivations", "personal_kpis"}:
            value = value.strip()
        if name == "external_id" and value == "":
            value = None
        setattr(instance, name, value)


def _validate(instance, target: str, custom: dict[str, Any] | None, *, partial: bool, extra_errors) -> None:
    """full_clean + custom fields, collected into one ValidationFailed with every field's errors."""
    errors: dict[str, list[str]] = {}
    try:
        instance.full_clean()
    except ValidationError as exc:
        errors.update(ValidationFailed.from_django(exc).fields)
    for key, messages in extra_errors(instance).items():
        errors.setdefault(key, []).extend(messages)
    if custom is not None or not partial:
        try:
            instance.custom_fields = custom_fields_clean(
                target, custom or {}, existing=instance.custom_fields, partial=partial
            )
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(fields=errors)


def _account_rules(account: Account) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if account.currency and not is_currency(account.currency):
        errors["currency"] = [_("“%(code)s” is not an ISO 4217 currency code.") % {"code": account.currency}]
    if account.country and not (len(account.country) == 2 and account.country.isalpha()):
        errors["country"] = [_("Enter a two-letter ISO country code, e.g. CN.")]
    else:
        account.country = account.country.upper()
    if account.parent_id:
        node, seen = account.parent, set()
        while node is not None:
            if (account.pk and node.pk == account.pk) or node.pk in seen:
                errors["parent"] = [_("An account cannot be its own parent.")]
                break
            seen.add(node.pk)
            node = node.parent
    return errors


def _contact_rules(contact: Contact) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if contact.reports_to_id:
        boss = contact.reports_to
        if boss.account_id != contact.account_id:
            errors["reports_to"] = [_("Choose a contact of the same account.")]
        else:
            node, seen = boss, set()
            while node is not None:
                if (contact.pk and node.pk == contact.pk) or node.pk in seen:
                    errors["reports_to"] = [_("This would make a reporting cycle.")]
                    break
                seen.add(node.pk)
                node = node.reports_to
    return errors


def _check_parent_visible(actor, account: Account, previous_parent_id: int | None) -> None:
    """A new parent must be an account the actor can see (ids of other accounts reveal nothing)."""
    if (
        account.parent_id
        and account.parent_id != previous_parent_id
        and not visible_accounts(actor).filter(pk=account.parent_id).exists()
    ):
        raise ValidationFailed(fields={"parent": [_("Choose an account you can see.")]})


def _check_may_own(actor, owner_id: int | None, team_id: int | None) -> None:
    """May `actor` hold a record owned by `owner_id` in `team_id`? (the write rule of scope_q)."""
    if is_admin(actor):
        return
    if not can_write(actor):
        raise PermissionDenied()
    if owner_id == actor.pk:
        return
    if actor.role == Role.MANAGER and team_id in _scope(actor)["write"]:
        return
    raise PermissionDenied(_("You may only create or keep records that you own or that belong to your teams."))


def _team_of(user_id: int | None) -> int | None:
    from keyfit.users.models import User

    return User.objects.filter(pk=user_id).values_list("team_id", flat=True).first() if user_id else None


def _prepare_account(account: Account, fields: dict[str, Any]) -> dict[str, Any] | None:
    custom = fields.pop("custom_fields", None)
    _apply(account, fields)
    if not account.domain and account.website:
        account.domain = domain_from_website(account.website)
    account.domain = (account.domain or "").lower()
    if account.currency:
        account.currency = account.currency.upper()
    return custom


@transaction.atomic
def account_create(*, actor, **fields) -> Account:
    _check_fields(fields, ACCOUNT_FIELDS)
    if "owner" not in fields and "owner_id" not in fields:
        fields["owner"] = actor
    account = Account()
    custom = _prepare_account(account, dict(fields))
    if account.team_id is None and "team" not in fields and "team_id" not in fields:
        account.team_id = _team_of(account.owner_id)
    _check_may_own(actor, account.owner_id, account.team_id)
    _check_parent_visible(actor, account, None)
    _validate(account, "account", custom, partial=False, extra_errors=_account_rules)
    account.save()
    audit_record(actor=actor, instance=account, action="create", after=snapshot(account))
    return account


def _lock_writable(qs, instance, actor):
    locked = qs.select_for_update().filter(pk=instance.pk).first()
    if locked is None:
        raise PermissionDenied()
    return locked


def _check_version(instance, version: int | None, current: dict[str, Any]) -> None:
    if version is not None and int(version) != instance.version:
        raise Conflict(extra={"current": current})


@transaction.atomic
def account_update(*, actor, account: Account, version: int | None, **fields) -> Account:
    """Change `account`; `version` is the one the editor saw (None only for trusted internal callers)."""
    _check_fields(fields, ACCOUNT_FIELDS)
    account = _lock_writable(editable_accounts(actor), account, actor)
    _check_version(account, version, account_current(account))
    before = snapshot(account)
    previous_parent_id = account.parent_id
    custom = _prepare_account(account, dict(fields))
    if ("owner" in fields or "owner_id" in fields) and not ("team" in fields or "team_id" in fields):
        account.team_id = _team_of(account.owner_id)
    _check_may_own(actor, account.owner_id, account.team_id)
    _check_parent_visible(actor, account, previous_parent_id)
    _validate(account, "account", custom, partial=True, extra_errors=_account_rules)
    account.version += 1
    account.save()
    audit_record(actor=actor, instance=account, action="update", before=before, after=snapshot(account))
    return account


@transaction.atomic
def account_delete(*, actor, account: Account) -> None:
    account = _lock_writable(editable_accounts(actor), account, actor)
    before = snapshot(account)
    pk = account.pk
    contacts = list(account.contacts.all())
    for contact in contacts:
        audit_record(actor=actor, instance=contact, action="delete", before=snapshot(contact), verb="account_deleted")
    try:
        with transaction.atomic():
            account.delete()
    except ProtectedError as exc:
        raise Conflict(
            _("This account is still used by other records (for example opportunities); change those first."),
            code="in_use",
        ) from exc
    account.pk = pk
    audit_record(actor=actor, instance=account, action="delete", before=before)


def account_current(account: Account) -> dict[str, Any]:
    """The values sent back with a 409 so the editor can merge (same keys as the API's AccountOut)."""
    from keyfit.accounts.schemas import account_out

    return account_out(account)


# --- contacts -------------------------------------------------------------------------------------


def _prepare_contact(contact: Contact, fields: dict[str, Any]) -> dict[str, Any] | None:
    custom = fields.pop("custom_fields", None)
    _apply(contact, fields)
    contact.email = (contact.email or "").lower()
    return custom


def _check_account_writable(actor, account: Account) -> None:
    if not editable_accounts(actor).filter(pk=account.pk).exists():
        raise PermissionDenied()


@transaction.atomic
def contact_create(*, actor, account: Account, **fields) -> Contact:
    _check_fields(fields, CONTACT_FIELDS)
    _check_account_writable(actor, account)
    contact = Contact(account=account)
    custom = _prepare_contact(contact, dict(fields))
    _validate(contact, "contact", custom, partial=False, extra_errors=_contact_rules)
    contact.save()
    audit_record(actor=actor, instance=contact, action="create", after=snapshot(contact))
    return contact


@transaction.atomic
def contact_update(*, actor, contact: Contact, version: int | None, **fields) -> Contact:
    _check_fields(fields, CONTACT_FIELDS)
    contact = _lock_writable(editable_contacts(actor), contact, actor)
    _check_version(contact, version, contact_current(contact))
    before = snapshot(contact)
    custom = _prepare_contact(contact, dict(fields))
    _validate(contact, "contact", custom, partial=True, extra_errors=_contact_rules)
    contact.version += 1
    contact.save()
    audit_record(actor=actor, instance=contact, action="update", before=before, after=snapshot(contact))
    return contact


@transaction.atomic
def contact_delete(*, actor, contact: Contact) -> None:
    contact = _lock_writable(editable_contacts(actor), contact, actor)
    before = snapshot(contact)
    pk = contact.pk
    try:
        with transaction.atomic():
            contact.delete()
    except ProtectedError as exc:
        raise Conflict(_("This contact is still used by other records; change those first."), code="in_use") from exc
    contact.pk = pk
    audit_record(actor=actor, instance=contact, action="delete", before=before)


def contact_current(contact: Contact) -> dict[str, Any]:
    from keyfit.accounts.schemas import contact_out

    return contact_out(contact)


# --- saved views and custom field definitions ----------------------------------------------------


@transaction.atomic
def saved_view_save(*, actor, list_key: str, name: str, query: str):
    from keyfit.core.models import SavedView

    name = name.strip()[:100]
    if not name:
        raise ValidationFailed(fields={"name": [_("Give the view a name.")]})
    view, _created = SavedView.objects.update_or_create(
        user=actor, list_key=list_key, name=name, defaults={"query": query[:2000]}
    )
    return view


@transaction.atomic
def saved_view_delete(*, actor, view_id: int) -> None:
    from keyfit.core.models import SavedView

    SavedView.objects.filter(user=actor, pk=view_id).delete()


def _require_admin(actor) -> None:
    if not is_admin(actor):
        raise PermissionDenied(_("Only administrators may define custom fields."))


@transaction.atomic
def custom_field_save(*, actor, definition, **fields):
    """Create (definition=None) or change a custom field definition (admin only), audited."""
    from keyfit.core.models import CustomFieldDefinition

    _require_admin(actor)
    before = snapshot(definition) if definition is not None else None
    definition = definition or CustomFieldDefinition()
    for name, value in fields.items():
        setattr(definition, name, value)
    errors: dict[str, list[str]] = {}
    try:
        definition.full_clean()
    except ValidationError as exc:
        errors.update(ValidationFailed.from_django(exc).fields)
    choice_types = (CustomFieldDefinition.Type.CHOICE, CustomFieldDefinition.Type.MULTI_CHOICE)
    if definition.field_type in choice_types:
        values = [str(c.get("value", "")).strip() for c in definition.choices or [] if isinstance(c, dict)]
        if not values or any(not v for v in values) or len(set(values)) != len(values):
            errors.setdefault("choices", []).append(_("Give at least one choice, each with a distinct value."))
    if errors:
        raise ValidationFailed(fields=errors)
    definition.save()
    audit_record(
        actor=actor,
        instance=definition,
        action="create" if before is None else "update",
        before=before,
        after=snapshot(definition),
    )
    return definition
