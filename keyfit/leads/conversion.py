"""The boundary between a converted lead and the account, contact and opportunity it becomes."""

from django.utils.translation import gettext as _

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.permissions import editable_accounts
from keyfit.accounts.services import account_create, contact_create
from keyfit.core.audit import audit_record, snapshot
from keyfit.core.models import AuditEvent
from keyfit.leads.models import Lead
from keyfit.leads.normalize import FREE_MAIL_DOMAINS

SIZE_BANDS = {"1-9", "10-49", "50-249", "250-999", "1000+"}


def account_for_lead(*, actor, lead: Lead, owner) -> tuple[Account, bool]:
    """The account of the lead's company: matched by domain, else by a contact's e-mail, else created."""
    account = None
    if lead.company_domain:
        account = Account.objects.filter(domain__iexact=lead.company_domain).order_by("id").first()
    if account is None and lead.email_normalized:
        contact = (
            Contact.objects.select_related("account").filter(email__iexact=lead.email_normalized).order_by("id").first()
        )
        account = contact.account if contact else None
    if account is not None:
        return account, False
    from keyfit.accounts.choices import Industry

    account = account_create(
        actor=actor,
        name=lead.company_name or lead.contact_name or _("Account of lead %(id)s") % {"id": lead.pk},
        domain=lead.company_domain if lead.company_domain not in FREE_MAIL_DOMAINS else "",
        website=f"https://{lead.company_domain}" if lead.company_domain else "",
        industry=lead.industry if lead.industry in Industry.values else "",
        size_band=lead.company_size if lead.company_size in SIZE_BANDS else "",
        region=lead.region,
        currency=lead.currency,
        owner=owner,
        team_id=lead.team_id or getattr(owner, "team_id", None),
    )
    return account, True


def contact_for_lead(*, actor, lead: Lead, account: Account) -> tuple[Contact | None, bool]:
    """The lead's person at `account`: matched by e-mail, else created (None when the lead names nobody)."""
    if lead.email_normalized:
        contact = account.contacts.filter(email__iexact=lead.email_normalized).order_by("id").first()
        if contact:
            return contact, False
    if not (lead.contact_name or lead.email):
        return None, False
    fields = {
        "name": lead.contact_name or lead.email,
        "title": lead.contact_title,
        "email": lead.email_normalized,
        "phone": lead.phone,
        "language": lead.language,
    }
    if editable_accounts(actor).filter(pk=account.pk).exists():
        return contact_create(actor=actor, account=account, **fields), True
    # The account belongs to someone else: the conversion the actor may make still records the
    # customer's person on it (audited as coming from the lead).
    contact = Contact(account=account, **fields)
    contact.full_clean(exclude=["reports_to"])
    contact.save()
    audit_record(
        actor=actor, instance=contact, action=AuditEvent.Action.CREATE, after=snapshot(contact), verb="from_lead"
    )
    return contact, True


def opportunity_for_lead(*, actor, lead: Lead, account: Account, contact: Contact | None, owner, name: str = ""):
    """The S3 opportunity of the converted lead, created by the pipeline (with its first history row)."""
    from keyfit.pipeline.services import opportunity_create

    return opportunity_create(
        actor=actor,
        account=account,
        name=name or lead.company_name or str(lead),
        owner=owner,
        team=lead.team or getattr(owner, "team", None),
        amount=lead.estimated_value,
        currency=lead.currency,
        contacts=(contact,) if contact else (),
        stage_code="s3_guiding",
        source_lead_id=lead.pk,
        custom_fields={},
    )
