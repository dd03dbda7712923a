"""Pages: the no-JS customer questionnaire step by step, the wave page with charts and tables, the export."""

import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from keyfit.fitcanvas import services
from keyfit.fitcanvas.models import Answer, Rater
from keyfit.fitcanvas.tests.factories import AccountFactory, ContactFactory, make_worked_wave, open_wave

pytestmark = pytest.mark.django_db


def test_questionnaire_without_javascript_save_return_and_submit(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    contact = ContactFactory(account=account, language="zh-hans")
    wave = open_wave(kam=org.kam, account=account, contacts=[contact])
    token = services.wave_invite(wave=wave, actor=org.kam)[0]["url"].rstrip("/").rsplit("/", 1)[1]
    url = f"/fit/r/{token}/"
    client = Client()
    first = client.get(url)
    html = first.content.decode()
    assert "该供应商理解我们未来三年的战略重点。" in html and "<script" not in html
    assert 'lang="zh-hans"' in html and "不知道" in html
    english = client.get(url, {"lang": "en"}).content.decode()
    assert "This supplier understands our strategic priorities" in english
    ids = [int(x.split('"')[0]) for x in html.split('name="s')[1:] if x.split('"')[0].isdigit()]
    ids = sorted(set(ids))
    assert len(ids) == 3
    step0 = {"step": "0", "lang": "en", "action": "next", f"s{ids[0]}": "4", f"s{ids[1]}": "0", f"s{ids[2]}": "5"}
    response = client.post(url, step0)
    assert response.status_code == 302 and response["Location"].endswith("?step=1&lang=en")
    rater = Rater.objects.get(wave=wave)
    assert dict(Answer.objects.filter(rater=rater).values_list("statement_id", "score")) == {
        ids[0]: 4,
        ids[1]: 0,
        ids[2]: 5,
    }
    # "save and continue later", then come back: the answers are there
    response = client.post(url, {**step0, f"s{ids[0]}": "3", "action": "save"})
    assert "saved=1" in response["Location"]
    back = Client().get(url, {"step": 0, "lang": "en"}).content.decode()
    assert f'name="s{ids[0]}" value="3" checked' in back
    # invalid value → form error, nothing changed
    bad = client.post(url, {**step0, f"s{ids[0]}": "9"})
    assert bad.status_code == 422
    assert Answer.objects.get(rater=rater, statement_id=ids[0]).score == 3
    final = client.post(url, {"step": "9", "lang": "en", "action": "submit", "horizon": "long"})
    assert "done=1" in final["Location"]
    rater.refresh_from_db()
    assert rater.submitted_at is not None and rater.horizon == "long"


def test_wave_page_shows_charts_tables_and_priorities(org, django_assert_max_num_queries):
    wave = make_worked_wave(org.kam)
    services.wave_close(wave=wave, actor=org.kam)
    client = Client()
    client.force_login(org.kam)
    with django_assert_max_num_queries(20):
        response = client.get(f"/fit/waves/{wave.pk}/")
    html = response.content.decode()
    assert 'id="chart-radar"' in html and 'id="chart-heatmap"' in html and 'id="chart-trend"' in html
    assert 'id="fit-chart-data" type="application/json"' in html
    assert "fitcanvas/results.js" in html and "vendor/echarts.min.js" in html
    assert 'id="table-elements"' in html and "3.17" in html and "3.67" in html
    priorities = html.split('id="priorities"')[1].split("</ol>")[0]
    assert priorities.index("Communication") < priorities.index("Strategy") < priorities.index("Structure")
    with django_assert_max_num_queries(10):
        assert client.get("/fit/").status_code == 200


def test_export_xlsx(org):
    wave = make_worked_wave(org.kam)
    client = Client()
    client.force_login(org.kam)
    response = client.get(f"/fit/waves/{wave.pk}/export.xlsx")
    book = load_workbook(io.BytesIO(response.content))
    rows = {r[0]: r for r in book["Elements"].iter_rows(values_only=True)}
    assert round(rows["PLAN_COMMUNICATION"][4], 2) == 1.17
    assert rows["PLAN_COMMUNICATION"][5] == "significant"


def test_kam_runs_a_wave_through_the_pages(org):
    client = Client()
    client.force_login(org.kam)
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    contact = ContactFactory(account=account)
    response = client.post("/fit/", {"account": account.pk, "name": "Q4", "due_date": "2099-01-31"})
    assert response.status_code == 302
    wave_url = response["Location"]
    wave_id = int(wave_url.rstrip("/").rsplit("/", 1)[1])
    client.post(f"/fit/waves/{wave_id}/add-rater/", {"contact": contact.pk})
    client.post(f"/fit/waves/{wave_id}/add-rater/", {"user": org.kam.pk})
    client.post(f"/fit/waves/{wave_id}/open/")
    invited = client.post(f"/fit/waves/{wave_id}/invite/").content.decode()
    assert 'id="new-links"' in invited and "/fit/r/" in invited
    answer = client.get(f"/fit/waves/{wave_id}/answer/", {"lang": "en"}).content.decode()
    assert "The customer would say we understand" in answer
    client.post(f"/fit/waves/{wave_id}/share/", {"items": ["overall", "elements"]})
    client.post(f"/fit/waves/{wave_id}/close/")
    page = client.get(wave_url).content.decode()
    assert "Closed" in page
