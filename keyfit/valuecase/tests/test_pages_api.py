import json

import pytest
from django.test import Client
from django.urls import reverse

from keyfit.valuecase import services
from keyfit.valuecase.models import CostItem, Driver, ValueCase
from keyfit.valuecase.tests.factories import scrm_case

pytestmark = pytest.mark.django_db

READERS = {"admin", "vp", "east_manager", "sdr", "ae", "viewer"}
WRITERS = {"admin", "vp", "east_manager", "ae"}
ALL = ["admin", "vp", "east_manager", "sdr", "ae", "ae2", "kam", "south_manager", "south_ae", "viewer"]

DRIVER = {
    "contributor": "product",
    "description": "Faster quoting",
    "activity": "marketing_sales",
    "amount": "1200.50",
    "basis_kind": "formula",
    "basis": "10 quotes × 120.05",
    "confidence": "high",
}


def _client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def case(opportunity, org):
    return scrm_case(actor=org.ae, opportunity=opportunity, ratings=(4, 4, 5))


@pytest.mark.parametrize("role", ALL)
def test_case_page_follows_the_opportunity_scope(case, org, role):
    response = _client(getattr(org, role)).get(reverse("valuecase:detail", args=[case.pk]))
    assert response.status_code == (200 if role in READERS else 404)
    if response.status_code == 200:
        html = response.content.decode()
        assert 'data-figure="net"' in html and "1,500.00" in html
        assert 'id="vc-chart-data"' in html and "<script>" not in html


@pytest.mark.parametrize("role", ALL)
def test_adding_a_driver_needs_write_scope_and_writes_nothing_on_denial(case, org, role):
    before = (Driver.objects.count(), ValueCase.objects.get(pk=case.pk).version)
    response = _client(getattr(org, role)).post(reverse("valuecase:line_add", args=[case.pk, "drivers"]), DRIVER)
    if role in WRITERS:
        assert response.status_code == 302
        assert Driver.objects.count() == before[0] + 1
    else:
        assert response.status_code == (403 if role in READERS else 404)
        assert (Driver.objects.count(), ValueCase.objects.get(pk=case.pk).version) == before


@pytest.mark.parametrize("role", ALL)
def test_api_scope_and_denials(case, org, role, api_client_for):
    client = api_client_for(getattr(org, role))
    r = client.get(f"/api/v1/value-cases/{case.pk}")
    assert r.status_code == (200 if role in READERS else 404)
    before = (Driver.objects.count(), ValueCase.objects.get(pk=case.pk).version)
    r = client.post(f"/api/v1/value-cases/{case.pk}/drivers", DRIVER, content_type="application/json")
    if role in WRITERS:
        assert r.status_code == 201
        assert r.json()["figures"]["pv"] == "6200.50"
    else:
        assert r.status_code == (403 if role in READERS else 404)
        assert r.json()["code"] in ("permission_denied", "not_found")
        assert (Driver.objects.count(), ValueCase.objects.get(pk=case.pk).version) == before
    listed = client.get("/api/v1/value-cases").json()["items"]
    assert [c["id"] for c in listed] == ([case.pk] if role in READERS else [])


def test_bad_input_on_the_page_gives_field_errors_and_saves_nothing(case, org):
    client = _client(org.ae)
    count = Driver.objects.count()
    r = client.post(reverse("valuecase:line_add", args=[case.pk, "drivers"]), {**DRIVER, "basis": ""})
    assert r.status_code == 422
    assert 'data-field="basis"' in r.content.decode()
    r = client.post(reverse("valuecase:line_add", args=[case.pk, "drivers"]), {**DRIVER, "amount": "-3"})
    assert r.status_code == 422 and 'data-field="amount"' in r.content.decode()
    assert Driver.objects.count() == count
    r = client.post(
        reverse("valuecase:settings", args=[case.pk]),
        {"version": case.version, "perception_override": "1.2", "perception_override_reason": ""},
    )
    assert r.status_code == 422 and 'data-field="perception_override_reason"' in r.content.decode()
    case.refresh_from_db()
    assert case.perception_override is None


def test_api_create_with_nested_lines_and_field_errors(opportunity, org, api_client_for):
    client = api_client_for(org.ae)
    body = {
        "opportunity": opportunity.pk,
        "summary": "Pilot",
        "drivers": [DRIVER, {**DRIVER, "contributor": "seller", "amount": None, "quantity": "3", "unit_value": "0.1"}],
        "costs": [{"kind": "price", "amount": "500", "basis_kind": "formula", "basis": "quote"}],
        "ratings": [{"product": 5, "kpi": 5, "service": 5}],
    }
    r = client.post("/api/v1/value-cases", body, content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["figures"]["pv"] == "1200.50" and data["figures"]["sv"] == "0.30"
    assert data["figures"]["net"] == "700.80" and data["figures"]["viable"] is True
    assert data["sensitivity"][0]["kind"] in ("driver", "cost", "rating")
    case_id = data["id"]
    bad = {
        "version": data["version"],
        "costs": [{"kind": "price", "amount": "-1", "basis_kind": "formula", "basis": ""}],
        "perception_override": "0.5",
    }
    r = client.put(f"/api/v1/value-cases/{case_id}", bad, content_type="application/json")
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert "perception_override_reason" in r.json()["fields"]
    r = client.put(
        f"/api/v1/value-cases/{case_id}",
        {
            "version": data["version"],
            "costs": [{"kind": "price", "amount": "-1", "basis_kind": "formula", "basis": ""}],
        },
        content_type="application/json",
    )
    assert r.status_code == 422 and {"costs.0.amount", "costs.0.basis"} <= set(r.json()["fields"])
    assert CostItem.objects.get(case_id=case_id).amount == 500
    r = client.put(f"/api/v1/value-cases/{case_id}", {"version": 999, "summary": "x"}, content_type="application/json")
    assert r.status_code == 409 and r.json()["current"]["summary"] == "Pilot"


def test_api_send_returns_the_link_once(case, org, api_client_for):
    client = api_client_for(org.ae)
    contact = case.opportunity.account.contacts.first()
    r = client.post(f"/api/v1/value-cases/{case.pk}/send", {"contact": contact.pk}, content_type="application/json")
    assert r.status_code == 201
    token = r.json()["token"]
    assert r.json()["url"].endswith(f"/value-cases/{case.pk}/customer/{token}/")
    assert r.json()["case"]["state"] == "sent"
    detail = client.get(f"/api/v1/value-cases/{case.pk}").content.decode()
    assert token not in detail
    r = client.post(f"/api/v1/value-cases/{case.pk}/drivers", DRIVER, content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "not_draft"
    services.customer_acknowledge(case_id=case.pk, token=token)
    assert client.get(f"/api/v1/value-cases/{case.pk}").json()["acknowledgement"]["case_number"] == 1
    r = client.post(f"/api/v1/value-cases/{case.pk}/close")
    assert r.status_code == 200 and r.json()["state"] == "at_close"
    driver = case.drivers.first()
    r = client.post(
        f"/api/v1/value-cases/{case.pk}/realised",
        {"driver": driver.pk, "on": "2027-01-31", "amount": "2500"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["rate"] == "0.5000"
    r = client.post("/api/v1/value-cases", {"opportunity": case.opportunity_id}, content_type="application/json")
    assert r.status_code == 201 and r.json()["number"] == 2 and len(r.json()["drivers"]) == 2


def test_query_budgets(case, org, api_client_for, django_assert_max_num_queries):
    for i in range(8):
        services.value_case_line_add(actor=org.ae, case=case, kind="drivers", data={**DRIVER, "description": f"D{i}"})
        services.value_case_line_add(
            actor=org.ae,
            case=case,
            kind="costs",
            data={"kind": "implementation", "amount": "10", "basis_kind": "formula", "basis": "b"},
        )
    client = _client(org.east_manager)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("valuecase:detail", args=[case.pk])).status_code == 200
    api = api_client_for(org.east_manager)
    with django_assert_max_num_queries(11):
        assert api.get(f"/api/v1/value-cases/{case.pk}").status_code == 200
    with django_assert_max_num_queries(10):
        assert api.get("/api/v1/value-cases").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("valuecase:list")).status_code == 200


def test_print_view_and_xlsx_export(case, org):
    from io import BytesIO

    from openpyxl import load_workbook

    client = _client(org.ae)
    html = client.get(reverse("valuecase:print", args=[case.pk])).content.decode()
    assert "@media print" not in html and "valuecase.css" in html and "1,500.00" in html
    r = client.get(reverse("valuecase:export", args=[case.pk]))
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.content))
    values = {row[0]: row[1] for row in wb.worksheets[0].iter_rows(values_only=True) if row and row[0]}
    assert values["Net value (CV − CC)"] == 1500 or str(values["Net value (CV − CC)"]) == "1500.00"
    assert wb.worksheets[1].max_row == 3  # header + 2 drivers
    assert _client(org.south_ae).get(reverse("valuecase:export", args=[case.pk])).status_code == 404


def test_compliance_list_for_managers(case, org):
    services.value_case_line_add(
        actor=org.ae,
        case=case,
        kind="items",
        data={"kind": "hospitality_gift", "description": "Dinner", "amount": "300"},
    )
    html = _client(org.east_manager).get(reverse("valuecase:list") + "?flagged=1").content.decode()
    assert "SCRM rollout" in html and "vc-flag" in html
    assert (
        "SCRM rollout" not in _client(org.south_manager).get(reverse("valuecase:list") + "?flagged=1").content.decode()
    )


def test_account_fragment(case, org):
    from django.template.loader import render_to_string

    from keyfit.valuecase.selectors import account_value_summary

    contact = case.opportunity.account.contacts.first()
    case, token = services.value_case_send(actor=org.ae, case=case, contact=contact)
    services.customer_acknowledge(case_id=case.pk, token=token)
    services.value_case_close(actor=org.ae, case=case)
    services.realisation_add(actor=org.ae, case=case, driver_id=case.drivers.first().pk, on="2027-01-01", amount="1000")
    summary = account_value_summary(org.ae, case.opportunity.account)
    assert summary["rows"][0]["rate"] == json.loads('"0.2000"') or str(summary["rows"][0]["rate"]) == "0.2000"
    html = render_to_string("valuecase/_account_value.html", {"value": summary})
    assert "0.2000" in html
    assert account_value_summary(org.south_ae, case.opportunity.account)["rows"] == []
    page = _client(org.ae).get(reverse("accounts:account_detail", args=[case.opportunity.account_id]))
    assert page.status_code == 200 and 'id="account-value"' in page.content.decode()
    assert "0.2000" in page.content.decode()


def test_ratings_only_for_contacts_of_the_account(case, org, make_opportunity, api_client_for):
    foreign = make_opportunity(org.ae, name="Elsewhere").account.contacts.first()
    draft = case
    r = api_client_for(org.ae).post(
        f"/api/v1/value-cases/{draft.pk}/ratings",
        {"contact": foreign.pk, "product": 3, "kpi": 3, "service": 3},
        content_type="application/json",
    )
    assert r.status_code == 422 and "contact" in r.json()["fields"]
    assert draft.ratings.count() == 1  # the overall rating only


def test_send_is_refused_to_readers_and_outsiders(case, org, api_client_for):
    contact = case.opportunity.account.contacts.first()
    for role, status in (("viewer", 403), ("sdr", 403), ("south_manager", 404)):
        r = api_client_for(getattr(org, role)).post(
            f"/api/v1/value-cases/{case.pk}/send", {"contact": contact.pk}, content_type="application/json"
        )
        assert r.status_code == status
    case.refresh_from_db()
    assert case.state == "draft"
    from keyfit.core.models import SecureLink

    assert not SecureLink.objects.exists()


def test_opportunity_fragment_and_start_page(case, org, make_opportunity):
    from django.template.loader import render_to_string

    from keyfit.valuecase.selectors import opportunity_value_summary

    html = render_to_string(
        "valuecase/_opportunity_value.html", {"value": opportunity_value_summary(org.ae, case.opportunity)}
    )
    assert f"/value-cases/{case.pk}/" in html and "1,500.00" in html
    fresh = make_opportunity(org.ae, name="Fresh")
    html = render_to_string("valuecase/_opportunity_value.html", {"value": opportunity_value_summary(org.ae, fresh)})
    assert f"/value-cases/opportunity/{fresh.pk}/" in html
    client = _client(org.ae)
    assert client.get(reverse("valuecase:opportunity", args=[fresh.pk])).status_code == 200
    r = client.post(reverse("valuecase:opportunity", args=[fresh.pk]))
    assert r.status_code == 302 and ValueCase.objects.filter(opportunity=fresh).count() == 1
    assert _client(org.viewer).post(reverse("valuecase:opportunity", args=[fresh.pk])).status_code == 403
    assert _client(org.south_ae).get(reverse("valuecase:opportunity", args=[fresh.pk])).status_code == 404
    assert ValueCase.objects.filter(opportunity=fresh).count() == 1


def _value_panel(client, opportunity_id):
    """The opportunity page loads its panels by their own requests: follow the value panel's."""
    page = client.get(reverse("pipeline:detail", args=[opportunity_id])).content.decode()
    url = reverse("pipeline:panel", args=[opportunity_id, "valuecase.value"])
    assert f'hx-get="{url}"' in page
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()


@pytest.mark.django_db
def test_opportunity_page_shows_the_value_case_panel(case, org, make_opportunity):
    panel = _value_panel(_client(org.ae), case.opportunity_id)
    assert 'id="opportunity-value"' in panel
    assert f"/value-cases/{case.pk}/" in panel and "1,500.00" in panel
    fresh = make_opportunity(org.ae, name="Fresh")
    panel = _value_panel(_client(org.ae), fresh.pk)
    assert f"/value-cases/opportunity/{fresh.pk}/" in panel
