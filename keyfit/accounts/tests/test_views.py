import pytest
from django.test import Client
from django.urls import reverse

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.tests.factories import AccountFactory, ContactFactory
from keyfit.core.models import AuditEvent, CustomFieldDefinition, SavedView


def _client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def segment(db):
    return CustomFieldDefinition.objects.create(
        target="account",
        key="segment",
        label_en="Segment",
        label_zh_hans="细分市场",
        field_type="choice",
        choices=[{"value": "smb", "label_en": "SMB"}, {"value": "ent", "label_en": "Enterprise"}],
    )


BASE = {"tier": "standard", "lifecycle": "prospect", "currency": "CNY"}


def test_create_account_in_the_form(org, segment):
    response = _client(org.ae).post(
        reverse("accounts:account_create"),
        {**BASE, "name": "深圳智造有限公司", "website": "https://zz.example.cn", "cf_segment": "smb"},
    )
    assert response.status_code == 302
    account = Account.objects.get()
    assert account.custom_fields == {"segment": "smb"}
    assert account.domain == "zz.example.cn"
    page = _client(org.ae).get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "深圳智造有限公司" in page
    assert "SMB" in page  # custom field on the detail page
    assert 'class="tl-create"' in page  # timeline entry


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "cf_segment": "galaxy"}, "cf_segment"),
        ({"name": "A", "external_id": "DUP"}, "external_id"),
        ({"name": "A", "website": "not a url"}, "website"),
    ],
)
def test_account_form_field_errors_save_nothing(org, segment, data, field):
    AccountFactory(owner=org.ae, external_id="DUP")
    response = _client(org.ae).post(reverse("accounts:account_create"), {**BASE, **data})
    assert response.status_code == 422
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert Account.objects.count() == 1
    assert AuditEvent.objects.count() == 0


def test_contact_form_bad_email_and_dup_external_id(org):
    account = AccountFactory(owner=org.ae)
    ContactFactory(account=account, external_id="C-1")
    url = reverse("accounts:contact_create", args=[account.pk])
    response = _client(org.ae).post(url, {"name": "Li", "email": "nope", "language": "en"})
    assert response.status_code == 422
    assert "email" in response.context["form"].errors
    response = _client(org.ae).post(url, {"name": "Li", "external_id": "C-1", "language": "en"})
    assert "external_id" in response.context["form"].errors
    assert Contact.objects.count() == 1


def test_edit_conflict_shows_current_values(org):
    account = AccountFactory(owner=org.ae, name="Old")
    url = reverse("accounts:account_edit", args=[account.pk])
    assert _client(org.ae).post(url, {**BASE, "name": "First", "version": 1}).status_code == 302
    response = _client(org.ae).post(url, {**BASE, "name": "Second", "version": 1})
    assert response.status_code == 409
    assert response.context["conflict"]["name"] == "First"
    account.refresh_from_db()
    assert account.name == "First"


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_page_query_budget(org, settings, django_assert_max_num_queries, page_size, segment):
    settings.PAGE_SIZE = page_size
    for i in range(130):
        AccountFactory.build(owner=org.ae, team=org.teams["east"], name=f"N{i:03d}").save()
    client = _client(org.ae)
    client.get(reverse("accounts:account_list"))  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get(reverse("accounts:account_list"), {"tier": "standard", "cf_segment": "ent"})
    assert response.status_code == 200
    with django_assert_max_num_queries(12):
        response = client.get(reverse("accounts:account_list"))
    assert len(response.context["page"].items) == page_size
    more = response.context["more_url"]
    with django_assert_max_num_queries(6):
        response = client.get(reverse("accounts:account_list") + more, HTTP_HX_REQUEST="true")
    assert response.templates[0].name == "accounts/_account_rows.html"


def test_saved_view_round_trip(org):
    client = _client(org.ae)
    response = client.post(reverse("accounts:saved_view_save", args=["accounts"]), {"name": "Key", "query": "tier=key"})
    assert response.status_code == 302
    view = SavedView.objects.get(user=org.ae, list_key="accounts")
    assert view.query == "tier=key"
    assert "Key" in client.get(reverse("accounts:account_list")).content.decode()
    client.post(reverse("accounts:saved_view_delete", args=["accounts", view.pk]))
    assert not SavedView.objects.exists()


def test_org_chart_nests_reports(org):
    account = AccountFactory(owner=org.ae)
    ceo = ContactFactory(account=account, name="CEO")
    cfo = ContactFactory(account=account, name="CFO", reports_to=ceo)
    ContactFactory(account=account, name="Controller", reports_to=cfo)
    html = _client(org.ae).get(reverse("accounts:account_org_chart", args=[account.pk])).content.decode()
    tree = html[html.index("</header>") :]  # past the page's random tokens, which may hold "CEO"
    assert tree.index(">CEO<") < tree.index(">CFO<") < tree.index(">Controller<")
    assert html.count("<ul>") == 2


def test_custom_fields_admin_only(org):
    assert _client(org.east_manager).get(reverse("accounts:custom_field_list")).status_code == 404
    client = _client(org.admin)
    response = client.post(
        reverse("accounts:custom_field_create"),
        {
            "target": "account",
            "key": "region_group",
            "label_en": "Region group",
            "label_zh_hans": "区域组",
            "field_type": "choice",
            "choices_text": "north | North | 北方\nsouth | South | 南方",
            "max_length": 500,
            "position": 1,
            "active": "on",
        },
    )
    assert response.status_code == 302
    d = CustomFieldDefinition.objects.get(key="region_group")
    assert d.choices[1] == {"value": "south", "label_en": "South", "label_zh_hans": "南方"}
    assert "Region group" in client.get(reverse("accounts:account_create")).content.decode()


def test_search_prefix_is_case_insensitive_and_cjk_uses_the_name_range(org):
    for name in [
        "杭州云启科技有限公司",
        "杭州数智有限公司",
        "上海杭州路贸易有限公司",
        "Hangzhou Trading",
        "hangar Ltd",
    ]:
        AccountFactory(owner=org.ae, name=name)
    client = _client(org.ae)

    def names(**params):
        return [a["name"] for a in client.get(reverse("accounts:account_list"), params).context["page"].items]

    assert names(q="杭州") == ["杭州云启科技有限公司", "杭州数智有限公司"]
    assert names(q="HANG") == ["Hangzhou Trading", "hangar Ltd"]
    assert names(q="杭州", match="contains") == ["上海杭州路贸易有限公司", "杭州云启科技有限公司", "杭州数智有限公司"]


def test_contains_search_is_bounded_and_continues(org, monkeypatch):
    from keyfit.accounts import selectors

    monkeypatch.setattr(selectors, "CONTAINS_WINDOW", 3)
    for i in range(7):
        AccountFactory(owner=org.ae, name=f"N{i} {'needle' if i in (1, 5) else 'hay'}")
    page = selectors.account_list(org.ae, {"q": "needle", "match": "contains"})
    assert [a.name for a in page.items] == ["N1 needle"]
    assert page.next_cursor  # the window (N0..N2) was full: more may follow
    page = selectors.account_list(org.ae, {"q": "needle", "match": "contains", "cursor": page.next_cursor})
    assert [a.name for a in page.items] == ["N5 needle"]
    page = selectors.account_list(org.ae, {"q": "needle", "match": "contains", "cursor": page.next_cursor})
    assert page.items == [] and page.next_cursor is None


@pytest.mark.parametrize("page_size", [10, 100])
def test_contact_list_query_budget_and_more(org, settings, django_assert_max_num_queries, page_size):
    settings.PAGE_SIZE = page_size
    account = AccountFactory(owner=org.ae)
    for i in range(120):
        ContactFactory(account=account, name=f"C{i:03d}")
    client = _client(org.ae)
    client.get(reverse("accounts:contact_list"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:contact_list"), {"account": account.pk})
    assert len(response.context["page"].items) == page_size
    with django_assert_max_num_queries(6):
        response = client.get(reverse("accounts:contact_list") + response.context["more_url"], HTTP_HX_REQUEST="true")
    assert response.context["page"].items[0].name == f"C{page_size:03d}"


def test_account_detail_query_budget(org, django_assert_max_num_queries, segment):
    account = AccountFactory(owner=org.ae, custom_fields={"segment": "ent"})
    boss = ContactFactory(account=account)
    for _ in range(30):
        ContactFactory(account=account, reports_to=boss)
    client = _client(org.ae)
    client.get(reverse("accounts:account_detail", args=[account.pk]))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("accounts:account_detail", args=[account.pk]))
    assert response.status_code == 200


def test_prefix_variants():
    from keyfit.accounts.selectors import prefix_variants

    assert prefix_variants("he") == ["HE", "He", "hE", "he"]
    assert prefix_variants("杭州") == ["杭州"]
    assert prefix_variants("3m") == ["3M", "3m"]
    assert prefix_variants("hel") == ["HE", "He", "hE", "he"]


@pytest.mark.parametrize("q", ["h", "HA", "hang", "Hangzhou "])
def test_prefix_search_pages_through_every_case_in_order(org, q):
    from keyfit.accounts import selectors

    names = ["hangar 1", "Hangzhou A", "HANGZHOU B", "hAngzhou C", "Hangzhou D", "Hz", "Alpha", "Zulu"]
    for name in names:
        AccountFactory(owner=org.ae, name=name)
    expected = sorted(n for n in names if n.lower().startswith(q.strip().lower()))
    seen, cursor = [], None
    for _ in range(10):
        page = selectors.account_list(org.ae, {"q": q}, cursor=cursor, limit=2)
        seen += [a.name for a in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == expected


def test_other_apps_can_add_panels_to_the_account_page(org):
    from keyfit.accounts import timeline

    def provider(request, account):
        return {"title": f"Activities of {account.name}", "template": "core/_timeline.html", "context": {}}

    timeline.register_account_panel("test.activities", provider, order=5)
    try:
        account = AccountFactory(owner=org.ae, name="Panel Co")
        html = _client(org.ae).get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
        assert "Activities of Panel Co" in html
        assert 'class="card panel-test.activities"' in html
    finally:
        timeline.unregister_account_panel("test.activities")


def test_list_filter_choices_are_cached_and_follow_changes(org, django_assert_max_num_queries):
    from keyfit.users.models import Team
    from keyfit.users.tests.factories import UserFactory

    client = _client(org.admin)
    url = reverse("accounts:account_list")
    client.get(url)
    with django_assert_max_num_queries(5):  # session, user, page, saved views, the cache entry
        page = client.get(url, {"owner": str(org.ae.pk)}).content.decode()
    assert f'<option value="{org.ae.pk}" selected>' in page
    newcomer = UserFactory(full_name="Zhang <Newcomer>", team=org.ae.team)
    assert "Zhang &lt;Newcomer&gt;" in client.get(url).content.decode()
    newcomer.full_name = "Zhang Renamed"
    newcomer.save()
    assert "Zhang Renamed" in client.get(url).content.decode()
    Team.objects.create(name="Brand-new team")
    assert "Brand-new team" in client.get(url).content.decode()
    newcomer.delete()
    assert "Zhang Renamed" not in client.get(url).content.decode()


def test_list_page_form_keeps_every_choice_language_and_token(org, segment):
    """The list's form and toolbar are rendered once per language and filled per request: every value must
    still be the request's own (escaped), per language, per role, with a working CSRF token."""
    import re

    from keyfit.core.models import SavedView

    url = reverse("accounts:account_list")
    SavedView.objects.create(user=org.admin, list_key="accounts", name="Key <deals>", query="tier=key")
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(org.admin)
    params = {
        "q": 'a"<b',
        "match": "contains",
        "tier": "key",
        "lifecycle": "customer",
        "industry": "saas",
        "country": "cn",
        "owner": str(org.ae.pk),
        "team": str(org.teams["east"].pk),
        "cf_segment": "ent",
    }
    html = admin.get(url, params).content.decode()
    assert 'name="q" value="a&quot;&lt;b"' in html
    assert '<option value="contains" selected>' in html
    assert '<option value="key" selected>Key</option>' in html
    assert '<option value="customer" selected>' in html
    assert '<option value="saas" selected>' in html
    assert 'name="country" value="cn"' in html
    assert f'<option value="{org.ae.pk}" selected>' in html
    assert f'<option value="{org.teams["east"].pk}" selected>East</option>' in html
    assert '<option value="ent" selected>Enterprise</option><option value="smb">' not in html
    assert '<option value="smb">SMB</option><option value="ent" selected>Enterprise</option>' in html
    assert html.count(" selected>") == 7  # match, tier, lifecycle, industry, owner, team, segment
    assert '<a href="?tier=key">Key &lt;deals&gt;</a>' in html
    assert 'name="query" value="q=a%22%3Cb&amp;match=contains&amp;tier=key' in html
    assert "Custom fields" in html and "New account" in html
    assert "\x00" not in html

    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    assert len(tokens) == 3  # log-out, delete-view and save-view forms, each masked anew
    response = admin.post(
        reverse("accounts:saved_view_save", args=["accounts"]),
        {"name": "Mine", "query": "tier=strategic", "csrfmiddlewaretoken": tokens.pop()},
    )
    assert response.status_code == 302
    html = admin.get(url).content.decode()
    assert '<a href="?tier=strategic">Mine</a>' in html  # the saved views are re-read after a change
    assert " selected>" not in html and 'name="q" value=""' in html

    chinese = admin.get(url, {"tier": "key"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "名称开头为" in chinese and "新建客户" in chinese and "Name starts with" not in chinese
    assert '<option value="key" selected>' in chinese
    assert "Name starts with" in admin.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    viewer = _client(org.viewer).get(url).content.decode()
    assert "New account" not in viewer and "Custom fields" not in viewer and "Mine" not in viewer
    ae = _client(org.ae).get(url).content.decode()
    assert "New account" in ae and "Custom fields" not in ae


def test_multi_choice_custom_field_is_a_list_filter(org):
    CustomFieldDefinition.objects.create(
        target="account",
        key="regions",
        label_en="Regions served",
        label_zh_hans="服务区域",
        field_type="multi_choice",
        choices=[
            {"value": "east", "label_en": "East", "label_zh_hans": "华东"},
            {"value": "north", "label_en": "North"},
        ],
    )
    AccountFactory(owner=org.ae, name="Both", custom_fields={"regions": ["east", "north"]})
    AccountFactory(owner=org.ae, name="North only", custom_fields={"regions": ["north"]})
    client = _client(org.ae)
    page = client.get(reverse("accounts:account_list")).content.decode()
    assert 'name="cf_regions"' in page and '<option value="east"' in page
    response = client.get(reverse("accounts:account_list"), {"cf_regions": "east"})
    assert [a["name"] for a in response.context["page"].items] == ["Both"]
