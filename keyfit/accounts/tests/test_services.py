from decimal import Decimal

import pytest

from keyfit.accounts import services
from keyfit.accounts.models import Account, Contact
from keyfit.accounts.tests.factories import AccountFactory, ContactFactory
from keyfit.core.audit import audit_for
from keyfit.core.errors import Conflict, PermissionDenied, ValidationFailed
from keyfit.core.models import AuditEvent, CustomFieldDefinition


@pytest.fixture
def region_field(db):
    return CustomFieldDefinition.objects.create(
        target="account",
        key="segment",
        label_en="Segment",
        label_zh_hans="细分市场",
        field_type="choice",
        choices=[{"value": "smb", "label_en": "SMB"}, {"value": "ent", "label_en": "Enterprise"}],
    )


def test_create_derives_domain_team_and_audits(org, region_field):
    account = services.account_create(
        actor=org.ae,
        name=" 杭州云启科技有限公司 ",
        website="https://www.yunqi.example.cn/about",
        annual_revenue=Decimal("1200000.50"),
        currency="usd",
        country="cn",
        custom_fields={"segment": "ent"},
    )
    assert account.name == "杭州云启科技有限公司"
    assert account.domain == "yunqi.example.cn"
    assert account.owner == org.ae
    assert account.team == org.teams["east"]
    assert account.currency == "USD"
    assert account.country == "CN"
    assert account.custom_fields == {"segment": "ent"}
    [event] = audit_for(account)
    assert event.action == "create"
    assert event.changes["name"] == [None, "杭州云启科技有限公司"]


def test_domain_from_website():
    assert services.domain_from_website("http://WWW.Example.com:8080/x") == "example.com"
    assert services.domain_from_website("example.org") == "example.org"
    assert services.domain_from_website("") == ""


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"custom_fields": {"segment": "galaxy"}}, "custom_fields.segment"),
        ({"custom_fields": {"nope": "1"}}, "custom_fields.nope"),
        ({"tier": "platinum"}, "tier"),
        ({"country": "China"}, "country"),
    ],
)
def test_create_rejects_bad_input_and_saves_nothing(org, region_field, fields, error_field):
    data = {"name": "Acme", **fields}
    with pytest.raises(ValidationFailed) as exc:
        services.account_create(actor=org.ae, **data)
    assert error_field in exc.value.fields
    assert Account.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_duplicate_external_id(org):
    AccountFactory(owner=org.ae, external_id="CRM-1")
    with pytest.raises(ValidationFailed) as exc:
        services.account_create(actor=org.ae, name="Other", external_id="CRM-1")
    assert "external_id" in exc.value.fields
    assert Account.objects.count() == 1


def test_update_bumps_version_and_records_before_after(org):
    account = AccountFactory(owner=org.ae, tier="standard")
    services.account_update(actor=org.ae, account=account, version=1, tier="key")
    account.refresh_from_db()
    assert account.version == 2
    [event] = audit_for(account)
    assert event.action == "update"
    assert event.changes == {"tier": ["standard", "key"]}


def test_stale_version_is_conflict_with_current_values(org):
    account = AccountFactory(owner=org.ae, name="Before")
    services.account_update(actor=org.ae, account=account, version=1, name="Theirs")
    with pytest.raises(Conflict) as exc:
        services.account_update(actor=org.ae, account=account, version=1, name="Mine")
    assert exc.value.extra["current"]["name"] == "Theirs"
    assert exc.value.extra["current"]["version"] == 2
    account.refresh_from_db()
    assert account.name == "Theirs"


def test_parent_cycle_rejected(org):
    a = AccountFactory(owner=org.ae)
    b = AccountFactory(owner=org.ae, parent=a)
    with pytest.raises(ValidationFailed) as exc:
        services.account_update(actor=org.ae, account=a, version=1, parent=b)
    assert "parent" in exc.value.fields


def test_ae_cannot_give_account_away(org):
    account = AccountFactory(owner=org.ae)
    with pytest.raises(PermissionDenied):
        services.account_update(actor=org.ae, account=account, version=1, owner=org.south_ae)
    account.refresh_from_db()
    assert account.owner == org.ae


def test_manager_may_assign_within_team_only(org):
    account = services.account_create(actor=org.east_manager, name="A", owner=org.ae)
    assert account.team == org.teams["east"]
    with pytest.raises(PermissionDenied):
        services.account_create(actor=org.east_manager, name="B", owner=org.south_ae)
    assert Account.objects.count() == 1


def test_contact_reports_to_same_account_and_no_cycles(org):
    account = AccountFactory(owner=org.ae)
    other = AccountFactory(owner=org.ae)
    boss = services.contact_create(actor=org.ae, account=account, name="Boss")
    report = services.contact_create(actor=org.ae, account=account, name="Report", reports_to=boss)
    stranger = ContactFactory(account=other)
    with pytest.raises(ValidationFailed) as exc:
        services.contact_create(actor=org.ae, account=account, name="X", reports_to=stranger)
    assert "reports_to" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.contact_update(actor=org.ae, contact=boss, version=1, reports_to=report)
    assert "reports_to" in exc.value.fields
    assert Contact.objects.filter(account=account).count() == 2


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"relationship_strength": 6}, "relationship_strength"),
        ({"title": "t" * 151}, "title"),
    ],
)
def test_contact_bad_input(org, fields, error_field):
    account = AccountFactory(owner=org.ae)
    with pytest.raises(ValidationFailed) as exc:
        services.contact_create(actor=org.ae, account=account, name="C", **fields)
    assert error_field in exc.value.fields
    assert Contact.objects.count() == 0


def test_delete_is_audited(org):
    account = AccountFactory(owner=org.ae)
    contact = ContactFactory(account=account)
    pk = account.pk
    services.account_delete(actor=org.ae, account=account)
    assert not Account.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.filter(action="delete", object_id=str(pk), object_repr=account.name).exists()
    assert AuditEvent.objects.filter(action="delete", object_id=str(contact.pk)).exists()


def test_custom_field_definition_admin_only(org):
    with pytest.raises(PermissionDenied):
        services.custom_field_save(
            actor=org.east_manager,
            definition=None,
            target="account",
            key="k",
            label_en="K",
            label_zh_hans="K",
            field_type="text",
        )
    with pytest.raises(ValidationFailed) as exc:
        services.custom_field_save(
            actor=org.admin,
            definition=None,
            target="account",
            key="k",
            label_en="K",
            label_zh_hans="K",
            field_type="choice",
            choices=[],
        )
    assert "choices" in exc.value.fields
    d = services.custom_field_save(
        actor=org.admin,
        definition=None,
        target="account",
        key="k",
        label_en="K",
        label_zh_hans="K",
        field_type="text",
    )
    assert d.pk


def test_parent_must_be_visible(org):
    hidden = AccountFactory(owner=org.south_ae)
    mine = AccountFactory(owner=org.ae)
    with pytest.raises(ValidationFailed) as exc:
        services.account_update(actor=org.ae, account=mine, version=1, parent_id=hidden.pk)
    assert "parent" in exc.value.fields
    with pytest.raises(ValidationFailed):
        services.account_create(actor=org.ae, name="Child", parent_id=hidden.pk)
    child = services.account_create(actor=org.ae, name="Child", parent=mine)
    assert child.parent == mine
