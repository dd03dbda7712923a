import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keyfit.accounts.models import Account
from keyfit.imports.models import ImportJob

CSV = "Account ID,Account Name,Industry,Owner Email,Extra\r\nSF1,Acme,Technology,,x\r\nSF2,,Banking,,y\r\nSF3,Beta,Mining,,z\r\n"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_upload_map_dry_run_then_import(org):
    client = client_for(org.ae)
    file = SimpleUploadedFile("sf.csv", CSV.encode("utf-8-sig"))
    response = client.post("/imports/", {"file": file, "kind": "account", "preset": "preset:salesforce"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    page = client.get(f"/imports/{job.pk}/map/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Account Name" in html and "Acme" in html
    selects = {f"col_{i}": v for i, v in enumerate(["external_id", "name", "industry", "owner_email", ""])}
    response = client.post(
        f"/imports/{job.pk}/map/", {**selects, "options": page.context["options"], "action": "dry_run"}
    )
    assert response.status_code == 302, response.context and response.context["error"]
    job.refresh_from_db()
    assert job.dry_run and job.counts == {"rows": 3, "created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert not Account.objects.exists()
    fragment = client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert b'id="job-status"' in fragment.content and b"<html" not in fragment.content
    response = client.post(f"/imports/{job.pk}/run/")
    real = ImportJob.objects.exclude(pk=job.pk).get()
    assert response.url == f"/imports/{real.pk}/"
    assert real.counts == {"rows": 3, "created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert dict(Account.objects.values_list("external_id", "industry")) == {"SF1": "saas", "SF3": ""}
    assert client.get(f"/imports/{real.pk}/rejected.csv").status_code == 200


@pytest.mark.parametrize("role", ["ae2", "south_manager", "viewer"])
def test_other_users_get_404(org, role):
    client = client_for(org.ae)
    client.post("/imports/", {"file": SimpleUploadedFile("a.csv", CSV.encode()), "kind": "account"})
    job = ImportJob.objects.get()
    other = client_for(org.users[role])
    for url in (f"/imports/{job.pk}/", f"/imports/{job.pk}/map/", f"/imports/{job.pk}/rejected.csv"):
        assert other.get(url).status_code == 404
    assert other.post(f"/imports/{job.pk}/cancel/").status_code == 404
    assert client_for(org.admin).get(f"/imports/{job.pk}/").status_code == 200


def test_index_lists_only_own_jobs(org, django_assert_max_num_queries):
    ImportJob.objects.create(owner=org.ae, kind="account", original_name="mine.csv")
    ImportJob.objects.create(owner=org.ae2, kind="account", original_name="theirs.csv")
    client = client_for(org.ae)
    with django_assert_max_num_queries(12):
        html = client.get("/imports/").content.decode()
    assert "mine.csv" in html and "theirs.csv" not in html


def test_export_link_downloads_csv(org):
    Account.objects.create(name="=cmd", owner=org.ae, team=org.teams["east"])
    response = client_for(org.ae).get("/imports/export/account/")
    assert response.status_code == 302
    download = client_for(org.ae).get(response.url)
    assert b"'=cmd" in b"".join(download.streaming_content)
