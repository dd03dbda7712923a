import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keyfit.accounts.models import Account
from keyfit.imports.models import ImportJob


def upload(rows, name="accounts.csv", encoding="utf-8-sig"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


MAPPING = json.dumps({"columns": {"Id": "external_id", "Name": "name", "Tier": "tier"}})


def test_upload_poll_and_download_rejected(org, api_client_for, django_assert_max_num_queries):
    client = api_client_for(org.ae)
    file = upload([["Id", "Name", "Tier"], ["K1", "Acme", "key"], ["K2", "", "key"], ["K3", "Beta", "gold"]])
    response = client.post("/api/v1/imports", {"file": file, "kind": "account", "mapping": MAPPING})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["rows"], body["created"], body["rejected"]) == ("done", 3, 1, 2)
    with django_assert_max_num_queries(4):
        polled = client.get(f"/api/v1/imports/{body['id']}")
    assert polled.json()["errors"] == [
        "row 3, column Name: This field is required.",
        "row 4, column Tier: “gold” is not one of the allowed choices.",
    ]
    rejected = client.get(body["rejected_file_url"])
    assert rejected.status_code == 200
    text = b"".join(rejected.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "Id,Name,Tier,Errors"
    acme = Account.objects.get(external_id="K1")
    assert acme.owner == org.ae and acme.team == org.teams["east"]


def test_dry_run_through_api_writes_nothing(org, api_client_for):
    client = api_client_for(org.ae)
    file = upload([["Id", "Name", "Tier"], ["K1", "Acme", "key"]])
    body = client.post(
        "/api/v1/imports", {"file": file, "kind": "account", "mapping": MAPPING, "dry_run": "true"}
    ).json()
    assert (body["dry_run"], body["created"]) == (True, 1)
    assert not Account.objects.exists()


@pytest.mark.parametrize("role", ["ae2", "south_manager", "east_manager", "viewer"])
def test_jobs_are_private_404(org, api_client_for, role):
    owner = api_client_for(org.ae)
    body = owner.post(
        "/api/v1/imports", {"file": upload([["Id", "Name"], ["K1", "A"]]), "kind": "account", "mapping": MAPPING}
    ).json()
    other = api_client_for(org.users[role])
    assert other.get(f"/api/v1/imports/{body['id']}").status_code == 404
    assert other.get(f"/api/v1/imports/{body['id']}/rejected").status_code == 404
    assert other.post(f"/api/v1/imports/{body['id']}/cancel").status_code == 404
    assert other.get("/api/v1/imports").json()["items"] == []
    admin = api_client_for(org.admin)
    assert admin.get(f"/api/v1/imports/{body['id']}").status_code == 200


def test_viewer_upload_is_403_and_writes_nothing(org, api_client_for):
    response = api_client_for(org.viewer).post(
        "/api/v1/imports", {"file": upload([["Id", "Name"], ["K1", "A"]]), "kind": "account", "mapping": MAPPING}
    )
    assert response.status_code == 403
    assert not ImportJob.objects.exists() and not Account.objects.exists()


def test_unknown_kind_is_422(org, api_client_for):
    response = api_client_for(org.ae).post("/api/v1/imports", {"file": upload([["a"], ["b"]]), "kind": "nope"})
    assert response.status_code == 422
    assert "kind" in response.json()["fields"]


def test_export_neutralises_formulas_and_scopes(org, api_client_for):
    Account.objects.create(name='=HYPERLINK("http://evil","x")', owner=org.ae, team=org.teams["east"], city="+86")
    Account.objects.create(name="@SUM(1)", owner=org.ae, team=org.teams["east"], region="\tx", legal_name="-2")
    Account.objects.create(name="上海华东", owner=org.ae, team=org.teams["east"])
    Account.objects.create(name="South", owner=org.south_ae, team=org.teams["south"])
    client = api_client_for(org.ae)
    body = client.post("/api/v1/exports", {"kind": "account"}, content_type="application/json").json()
    assert body["status"] == "done" and body["rows"] == 3
    raw = b"".join(client.get(body["result_url"]).streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://evil","x")', "'@SUM(1)", "上海华东"]
    assert rows[0]["city"] == "'+86" and rows[1]["region"] == "'\tx" and rows[1]["legal_name"] == "'-2"
    assert rows[0]["owner_email"] == "ae@example.com"
    assert api_client_for(org.south_ae).get(f"/api/v1/exports/{body['id']}").status_code == 404


def test_export_xlsx_and_filters(org, api_client_for):
    from openpyxl import load_workbook

    Account.objects.create(name="=1+1", owner=org.ae, team=org.teams["east"], tier="key")
    Account.objects.create(name="Plain", owner=org.ae, team=org.teams["east"])
    client = api_client_for(org.ae)
    body = client.post(
        "/api/v1/exports",
        {"kind": "account", "format": "xlsx", "filters": {"tier": "key"}},
        content_type="application/json",
    ).json()
    raw = b"".join(client.get(body["result_url"]).streaming_content)
    sheet = load_workbook(io.BytesIO(raw)).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][0] == "'=1+1"
