"""Leads through the import: the leads app's own rules, dedupe normalisers and the two real datasets."""

import csv
import io
import json
import os
from pathlib import Path

import pytest
from django.apps import apps

from keyfit.imports import services
from keyfit.imports.models import ImportJob

pytestmark = pytest.mark.skipif(
    not apps.is_installed("keyfit.leads")
    or not any(m.__name__ == "Lead" for m in apps.get_app_config("leads").get_models()),
    reason="the leads app has not landed",
)

ROOT = Path(__file__).resolve().parents[3]
MAPPINGS = ROOT / "docs" / "mappings"


def data_dir() -> Path | None:
    candidates = [os.environ.get("KEYFIT_DATA_DIR"), str(ROOT.parent / "shared" / "data"), "/work/shared/data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def run(actor, path, mapping, dry_run=False):
    job = services.import_job_create(actor=actor, kind="lead", source_path=path, mapping=mapping, dry_run=dry_run)
    return services.import_job_start(actor=actor, job=job, inline=True)


def write(path, rows, encoding="utf-8-sig"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([*row, ""])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


LEAD_MAPPING = {
    "columns": {
        "ID": "external_id",
        "姓名": "contact_name",
        "公司": "company_name",
        "邮箱": "email",
        "手机": "phone",
        "来源": {"field": "source", "values": {"Google": "web_form", "展会": "event", "Select": ""}},
        "预算": "estimated_value",
    },
    "key": "external_id",
}


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_hostile_leads_file(org, tmp_path, encoding):
    from keyfit.leads.models import Lead

    rows = [
        ["ID", "姓名", "公司", "邮箱", "手机", "来源", "预算"],
        ["L1", "王伟", "华东精密", "Wang.Wei@Example.CN", "138 0013 8000", "google", "120000"],  # ok
        ["L2", "李娜", "", "not-an-email", "", "展会", ""],  # bad e-mail
        ["L3", "", "", "", "", "", ""],  # nothing to identify the lead
        ["L4", "张三", "上海云启", "", "", "电视", ""],  # unknown choice
        ["L1", "王伟", "华东精密", "", "", "", ""],  # duplicate id in the file
        ["L5", '=HYPERLINK("http://x")', "", "l5@example.com", "", "Select", "-5"],  # negative amount
        ["L6", "赵六", "", "l6@example.com", "", "Select", "1,000"],  # ok, "Select" → default source
    ]
    job = run(org.ae, write(tmp_path / "leads.csv", rows, encoding), LEAD_MAPPING)
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.counts == {"rows": 7, "created": 2, "updated": 0, "unchanged": 0, "rejected": 5}
    assert job.errors == [
        "row 3, column 邮箱: Enter a valid e-mail address.",
        "row 4: Give at least a name, a company, an e-mail address or a phone number.",
        "row 5, column 来源: “电视” is not one of the allowed choices.",
        "row 6: the same key “L1” is already in row 2 of this file",
        "row 7, column 预算: Ensure this value is greater than or equal to 0.",
    ]
    l1 = Lead.objects.get(external_id="L1")
    assert (l1.email_normalized, l1.phone_normalized, l1.company_domain) == (
        "wang.wei@example.cn",
        "+8613800138000",
        "example.cn",
    )
    assert (l1.source, str(l1.estimated_value), l1.owner, l1.team) == (
        "web_form",
        "120000.00",
        org.ae,
        org.teams["east"],
    )
    assert Lead.objects.get(external_id="L6").source == "import"
    again = run(org.ae, write(tmp_path / "leads2.csv", rows, encoding), LEAD_MAPPING)
    assert again.counts == {"rows": 7, "created": 0, "updated": 0, "unchanged": 2, "rejected": 5}


def test_route_uses_the_lead_service(org, tmp_path):
    from keyfit.core.models import AuditEvent
    from keyfit.leads.models import Lead

    rows = [["ID", "姓名", "邮箱"], ["R1", "A", "a@example.com"], ["R2", "B", "bad"]]
    job = run(org.admin, write(tmp_path / "r.csv", rows), {**LEAD_MAPPING, "route": True})
    assert job.counts == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    lead = Lead.objects.get(external_id="R1")
    assert AuditEvent.objects.filter(object_id=str(lead.pk), action="create").count() == 1
    assert AuditEvent.objects.filter(verb="import").count() == 1


def _dataset(name: str) -> Path:
    root = data_dir()
    if root is None or not (root / name).exists():
        pytest.skip("the shared data sets are not on this machine")
    return root / name


@pytest.mark.django_db
def test_x_education_imports_every_lead_with_its_outcome(org, tmp_path):
    from keyfit.leads.models import Lead

    path = _dataset("x_education_leads/Leads.csv")
    mapping = json.loads((MAPPINGS / "x_education_leads.json").read_text(encoding="utf-8"))
    job = run(org.admin, path, mapping)
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.counts == {"rows": 9240, "created": 9240, "updated": 0, "unchanged": 0, "rejected": 0}, job.errors[:5]
    assert Lead.objects.count() == 9240
    assert Lead.objects.filter(known_converted=True).count() == 3561
    assert Lead.objects.filter(known_converted=False).count() == 5679
    first = Lead.objects.get(external_id="7927b2df-8bba-4d29-b9a2-b6e0beafe620")
    assert first.custom_fields["xe_lead_number"] == "660737"
    assert "xe_specialization" not in first.custom_fields  # "Select" = not answered
    assert first.custom_fields["xe_lead_source"] == "Olark Chat"
    assert first.custom_fields["xe_do_not_email"] is False
    assert Lead.objects.filter(custom_fields__xe_lead_source="google").count() == 0
    again = run(org.admin, path, mapping)
    assert again.counts == {"rows": 9240, "created": 0, "updated": 0, "unchanged": 9240, "rejected": 0}
    assert Lead.objects.count() == 9240


@pytest.mark.django_db
def test_uci_bank_marketing_dry_run(org, tmp_path):
    path = _dataset("uci_bank_marketing/bank-additional-full.csv")
    mapping = json.loads((MAPPINGS / "uci_bank_marketing.json").read_text(encoding="utf-8"))
    head = tmp_path / "uci-head.csv"
    with open(path, "rb") as src:
        head.write_bytes(b"".join(src.readline() for _ in range(2001)))
    job = run(org.admin, head, mapping)
    assert job.counts == {"rows": 2000, "created": 2000, "updated": 0, "unchanged": 0, "rejected": 0}, job.errors[:5]
    from keyfit.leads.models import Lead

    lead = Lead.objects.get(external_id="UCI-2")
    assert lead.known_converted is False and lead.custom_fields["bank_age"] == "56"
    assert "bank_days_since_previous" not in lead.custom_fields  # 999 = never contacted
    assert "bank_default" not in Lead.objects.get(external_id="UCI-3").custom_fields  # "unknown"


def test_leads_in_several_batches_end_as_in_one(org, tmp_path, monkeypatch):
    """Batches are read and validated ahead while the previous one is written: nothing changes for it."""
    from functools import partial

    from keyfit.imports import engine
    from keyfit.leads.models import Lead

    rows = [["ID", "姓名", "公司", "邮箱", "手机", "来源", "预算"]]
    for i in range(1, 12):
        rows.append(
            [f"B{i}", f"人{i}", "华东精密", f"p{i}@corp{i % 3}.example.cn", f"1380013800{i % 10}", "Select", "5"]
        )
    rows[4][3] = "bad"  # row 5: rejected
    rows[6][0] = "B5"  # row 7: the key of row 6, in the same batch of three
    rows[10][4] = "42"  # row 11: not a phone number
    rows.append(["B1", "人1 changed", "华东精密", "p1@corp1.example.cn", "13800138001", "展会", "5"])  # row 13: update
    monkeypatch.setattr(services, "run_rows", partial(engine.run_rows, batch_size=3))
    job = run(org.ae, write(tmp_path / "batches.csv", rows), LEAD_MAPPING)
    assert job.counts == {"rows": 12, "created": 8, "updated": 1, "unchanged": 0, "rejected": 3}
    assert job.errors == [
        "row 5, column 邮箱: Enter a valid e-mail address.",
        "row 7: the same key “B5” is already in row 6 of this file",
        "row 11, column 手机: Enter a valid phone number.",
    ]
    b1 = Lead.objects.get(external_id="B1")
    assert (b1.contact_name, b1.source, b1.company_domain) == ("人1 changed", "event", "corp1.example.cn")
    assert Lead.objects.filter(external_id__startswith="B").count() == 8
    # again: B1 goes back to its first row's values in batch 1 and forward to row 13's in batch 4
    again = run(org.ae, write(tmp_path / "batches2.csv", rows), LEAD_MAPPING)
    assert again.counts == {"rows": 12, "created": 0, "updated": 2, "unchanged": 7, "rejected": 3}


def test_text_that_means_something_to_the_bulk_writer_is_stored_as_it_is(org, tmp_path):
    """COPY's text format (PostgreSQL) and the JSON rows (SQLite) carry tabs, backslashes, line breaks
    and `\\N` through unchanged; columns no row fills keep their defaults."""
    from keyfit.leads.models import Lead

    rows = [
        ["ID", "姓名", "公司", "邮箱", "手机", "来源", "预算"],
        ["T1", "tab\there", "C:\\dir\\file", "t1@example.com", "", "Select", ""],
        ["T2", "\\N", "line\nbreak\r\nand more", "t2@example.com", "", "Select", "7"],
        ["T3", "😀 \\t \\\\", 'quote " and , comma', "", "13800138000", "google", "0"],
    ]
    job = run(org.ae, write(tmp_path / "special.csv", rows), LEAD_MAPPING)
    assert job.counts == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    stored = {lead.external_id: lead for lead in Lead.objects.filter(external_id__in=["T1", "T2", "T3"])}
    assert [(stored[k].contact_name, stored[k].company_name) for k in ("T1", "T2", "T3")] == [
        ("tab\there", "C:\\dir\\file"),
        ("\\N", "line\nbreak\r\nand more"),
        ("😀 \\t \\\\", 'quote " and , comma'),
    ]
    t1, t2, t3 = stored["T1"], stored["T2"], stored["T3"]
    assert (t1.estimated_value, str(t2.estimated_value), str(t3.estimated_value)) == (None, "7.00", "0.00")
    assert (t1.source, t3.source, t3.phone_normalized, t1.email_normalized) == (
        "import",
        "web_form",
        "+8613800138000",
        "t1@example.com",
    )
    assert (t1.owner, t1.team, t1.custom_fields, t1.fit_score, t1.merged_into_id) == (
        org.ae,
        org.teams["east"],
        {},
        None,
        None,
    )
    assert (t1.status, t1.priority, t1.version, t1.fit_breakdown) == ("new", 50, 1, [])
    assert t1.created_at is not None and t1.created_at == t1.updated_at


def test_a_batch_the_database_refuses_is_rolled_back_and_the_import_resumes(org, tmp_path, monkeypatch):
    """The rows are written by a second thread: its error stops the import like any database error."""
    from functools import partial

    from django.db import DatabaseError, connection

    from keyfit.imports import engine
    from keyfit.leads.models import Lead

    rows = [["ID", "姓名", "公司", "邮箱", "手机", "来源", "预算"]]
    rows += [[f"R{i}", f"人{i}", "华东精密", f"r{i}@example.cn", "", "Select", ""] for i in range(1, 8)]
    monkeypatch.setattr(services, "run_rows", partial(engine.run_rows, batch_size=3))
    original = engine._write_behind
    calls = {"n": 0}

    def refusing(write, meanwhile):
        calls["n"] += 1
        if calls["n"] != 2:
            return original(write, meanwhile)
        raw = connection.connection

        def refused():
            raw.execute("SELECT * FROM no_such_table")

        return original(refused, meanwhile)

    monkeypatch.setattr(engine, "_write_behind", refusing)
    job = services.import_job_create(
        actor=org.ae, kind="lead", source_path=write(tmp_path / "refused.csv", rows), mapping=LEAD_MAPPING
    )
    with pytest.raises(DatabaseError):
        services.import_job_start(actor=org.ae, job=job, inline=True)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == (ImportJob.Status.FAILED, 3, 3)
    assert job.message.startswith("The import stopped:")
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["R1", "R2", "R3"]
    monkeypatch.setattr(engine, "_write_behind", original)
    job = services.import_job_resume(actor=org.ae, job=job)
    assert job.status == ImportJob.Status.DONE
    assert job.counts == {"rows": 7, "created": 7, "updated": 0, "unchanged": 0, "rejected": 0}
    assert Lead.objects.filter(external_id__startswith="R").count() == 7
