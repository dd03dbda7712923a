import csv
import io
import json

import pytest

from keyfit.accounts.models import Account, Contact
from keyfit.core.models import AuditEvent
from keyfit.imports import services
from keyfit.imports.models import ImportJob

MAPPING = {
    "columns": {
        "External ID": "external_id",
        "Name": "name",
        "E-mail": "email",
        "Seniority": {"field": "seniority", "values": {"Select": "", "exec": "executive"}},
        "Account": "account_external_id",
        "Notes": "motivations",
        "Title": "title",
    },
    "key": "external_id",
}

HEADER = ["External ID", "Name", "E-mail", "Seniority", "Account", "Notes", "Title"]


def write_csv(path, rows, *, encoding="utf-8-sig", trailing_comma=True, header=HEADER):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in [header, *rows]:
        writer.writerow([*row, ""] if trailing_comma else row)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_rejected(job):
    with open(job.rejected_path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def run(actor, path, mapping=MAPPING, kind="contact", dry_run=False):
    job = services.import_job_create(actor=actor, kind=kind, source_path=path, mapping=mapping, dry_run=dry_run)
    return services.import_job_start(actor=actor, job=job, inline=True)


def hostile_rows():
    big = "x" * (10 * 1024 * 1024)
    return [
        ["C1", "王伟", "wang.wei@example.cn", "Executive", "A1", "", "总经理"],  # row 2 ok
        ["C2", "李娜", "not-an-email", "management", "A1", "", ""],  # row 3 bad e-mail
        ["C3", "Anna Berg", "anna@example.com", "Chief", "A2", "", ""],  # row 4 unknown choice
        ["C1", "王伟 again", "w2@example.cn", "", "A1", "", ""],  # row 5 duplicate external id
        ["C4", "", "nobody@example.com", "", "A1", "", ""],  # row 6 missing required name
        ["C5", "Line\nBreak", "lb@example.com", "select", "A2", "multi\r\nline note", ""],  # row 7 ok
        ["C6", "Big Cell", "big@example.com", "", "A2", "", big],  # row 8 10 MB title
        ["C7", '=HYPERLINK("http://evil","x")', "f@example.com", "exec", "A2", "@SUM(A1)", "+1"],  # 9 ok
        ["C8", "Nobody's", "n8@example.com", "", "ZZ", "", ""],  # row 10 unknown account
        ["C9", "South", "s@example.com", "", "S1", "", ""],  # row 11 account out of scope
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_hostile_file_imports_good_rows_and_rejects_bad_ones(org, accounts, tmp_path, encoding):
    path = write_csv(tmp_path / "hostile.csv", hostile_rows(), encoding=encoding)
    job = run(org.ae, path)
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "gb18030")
    assert job.counts == {"rows": 10, "created": 3, "updated": 0, "unchanged": 0, "rejected": 7}
    assert job.created + job.updated + job.unchanged + job.rejected == 10
    assert job.errors == [
        "row 3, column E-mail: Enter a valid email address.",
        "row 4, column Seniority: “Chief” is not one of the allowed choices.",
        "row 5: the same key “C1” is already in row 2 of this file",
        "row 6, column Name: This field is required.",
        "row 8, column Title: Ensure this value has at most 150 characters (it has 10485760).",
        "row 10, column Account: no such account",
        "row 11, column Account: no such account",
    ]
    assert set(Contact.objects.values_list("external_id", flat=True)) == {"C1", "C5", "C7"}
    c1 = Contact.objects.get(external_id="C1")
    assert (c1.name, c1.seniority, c1.account.external_id) == ("王伟", "executive", "A1")
    c5 = Contact.objects.get(external_id="C5")
    assert c5.name == "Line\nBreak" and c5.seniority == "" and c5.motivations == "multi\r\nline note"
    c7 = Contact.objects.get(external_id="C7")
    assert c7.name.startswith("=HYPERLINK") and c7.seniority == "executive"
    # the rejected-rows file: original rows plus an error column, UTF-8 with BOM
    with open(job.rejected_path, "rb") as fh:
        data = fh.read()
    assert data.startswith(b"\xef\xbb\xbf")
    rejected = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rejected[0] == [*HEADER, "Errors"]
    assert [r[0] for r in rejected[1:]] == ["C2", "C3", "C1", "C4", "C6", "C8", "C9"]
    assert rejected[5][6] == "x" * (10 * 1024 * 1024)
    assert rejected[1][-1] == "row 3, column E-mail: Enter a valid email address."
    # one audit event summarising the job
    events = AuditEvent.objects.filter(verb="import")
    assert events.count() == 1
    assert events.get().changes["_extra"]["created"] == 3


def test_fix_rejected_rows_and_reimport(org, accounts, tmp_path):
    path = write_csv(tmp_path / "hostile.csv", hostile_rows()[:4])
    job = run(org.ae, path)
    assert job.counts == {"rows": 4, "created": 1, "updated": 0, "unchanged": 0, "rejected": 3}
    rows = read_rejected(job)
    fixed = []
    for row in rows[1:]:
        row = row[:-1]
        if row[0] == "C2":
            row[2] = "li.na@example.cn"
        if row[0] == "C3":
            row[3] = "operational"
        if row[0] == "C1":
            continue
        fixed.append(row)
    fixed_path = write_csv(tmp_path / "fixed.csv", fixed, header=rows[0][:-1], trailing_comma=False)
    again = run(org.ae, fixed_path)
    assert again.counts == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert Contact.objects.count() == 3


def test_reimport_changes_nothing_then_updates(org, accounts, tmp_path):
    rows = [["C1", "王伟", "w@example.cn", "executive", "A1", "", ""], ["C2", "Li", "l@example.cn", "", "A2", "", ""]]
    path = write_csv(tmp_path / "a.csv", rows)
    assert run(org.ae, path).counts["created"] == 2
    before = list(Contact.objects.order_by("pk").values("pk", "version", "updated_at"))
    second = run(org.ae, path)
    assert second.counts == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert list(Contact.objects.order_by("pk").values("pk", "version", "updated_at")) == before
    rows[1][1] = "Li Na"
    third = run(org.ae, write_csv(tmp_path / "b.csv", rows))
    assert third.counts == {"rows": 2, "created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    c2 = Contact.objects.get(external_id="C2")
    assert c2.name == "Li Na" and c2.version == 2


def test_dry_run_validates_without_writing(org, accounts, tmp_path):
    path = write_csv(tmp_path / "hostile.csv", hostile_rows()[:5])
    job = run(org.ae, path, dry_run=True)
    assert job.counts == {"rows": 5, "created": 1, "updated": 0, "unchanged": 0, "rejected": 4}
    assert Contact.objects.count() == 0
    assert not AuditEvent.objects.filter(verb="import").exists()


def test_resume_after_crash_does_not_duplicate(org, accounts, tmp_path, monkeypatch):
    from keyfit.imports import engine

    rows = [[f"C{i}", f"Person {i}", f"p{i}@example.com", "", "A1", "", ""] for i in range(1, 26)]
    rows[12][2] = "bad"
    path = write_csv(tmp_path / "many.csv", rows)
    monkeypatch.setattr(engine, "BATCH_SIZE", 10)
    job = services.import_job_create(actor=org.ae, kind="contact", source_path=path, mapping=MAPPING)
    original = engine.Engine.process
    calls = {"n": 0}

    def crashing(self, batch, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return original(self, batch, **kwargs)

    monkeypatch.setattr(engine.Engine, "process", crashing)
    from functools import partial

    monkeypatch.setattr(engine, "run_rows", partial(engine.run_rows, batch_size=10))
    monkeypatch.setattr(services, "run_rows", partial(engine.run_rows, batch_size=10))
    with pytest.raises(RuntimeError):
        services.import_job_start(actor=org.ae, job=job, inline=True)
    job.refresh_from_db()
    assert job.rows_done == 20 and Contact.objects.count() == 19
    assert job.status == ImportJob.Status.FAILED and job.message == "The import stopped: worker killed"
    monkeypatch.setattr(engine.Engine, "process", original)
    job = services.import_job_resume(actor=org.ae, job=job)
    assert job.status == ImportJob.Status.DONE
    assert job.counts == {"rows": 25, "created": 24, "updated": 0, "unchanged": 0, "rejected": 1}
    assert Contact.objects.count() == 24
    rejected = read_rejected(job)
    assert len(rejected) == 2 and rejected[1][0] == "C13"


def test_cancel_stops_after_the_current_batch(org, accounts, tmp_path, monkeypatch):
    from functools import partial

    from keyfit.imports import engine

    rows = [[f"C{i}", f"P{i}", "", "", "A1", "", ""] for i in range(30)]
    path = write_csv(tmp_path / "c.csv", rows)
    job = services.import_job_create(actor=org.ae, kind="contact", source_path=path, mapping=MAPPING)
    original = engine.Engine.process

    def cancel_after_first(self, batch, **kwargs):
        result = original(self, batch, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        return result

    monkeypatch.setattr(engine.Engine, "process", cancel_after_first)
    monkeypatch.setattr(services, "run_rows", partial(engine.run_rows, batch_size=10))
    job = services.import_job_start(actor=org.ae, job=job, inline=True)
    assert job.status == ImportJob.Status.CANCELLED
    assert job.rows_done == 10 and Contact.objects.count() == 10


def test_accounts_owner_by_email_and_scope(org, tmp_path):
    header = ["Id", "Company", "Owner", "Industry", "Revenue"]
    rows = [
        ["X1", "Acme", "ae2@example.com", "Manufacturing", "1,200.50"],
        ["X2", "Beta", "south.ae@example.com", "saas", ""],
        ["X3", "Gamma", "", "Software / SaaS", "¥3000"],
        ["X4", "Delta", "ghost@example.com", "retail", ""],
    ]
    path = write_csv(tmp_path / "acc.csv", rows, header=header)
    mapping = {
        "columns": {
            "Id": "external_id",
            "Company": "name",
            "Owner": "owner_email",
            "Industry": "industry",
            "Revenue": "annual_revenue",
        }
    }
    job = run(org.east_manager, path, mapping=mapping, kind="account")
    assert job.counts == {"rows": 4, "created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert job.errors == [
        "row 3, column Owner: you may not assign records to this user",
        "row 5, column Owner: no active user with this e-mail",
    ]
    acme = Account.objects.get(external_id="X1")
    assert acme.owner == org.ae2 and acme.team == org.teams["east"] and acme.industry == "manufacturing"
    assert str(acme.annual_revenue) == "1200.50"
    gamma = Account.objects.get(external_id="X3")
    assert gamma.owner == org.east_manager and gamma.industry == "saas" and str(gamma.annual_revenue) == "3000.00"


def test_viewer_may_not_import(org, tmp_path):
    from keyfit.core.errors import PermissionDenied

    path = write_csv(tmp_path / "acc.csv", [["X1", "Acme"]], header=["external_id", "name"])
    with pytest.raises(PermissionDenied):
        services.import_job_create(actor=org.viewer, kind="account", source_path=path)
    assert not ImportJob.objects.exists()


def test_update_of_record_outside_write_scope_is_rejected(org, accounts, tmp_path):
    path = write_csv(tmp_path / "acc.csv", [["S1", "Renamed"]], header=["external_id", "name"])
    job = run(org.ae, path, mapping={"columns": {"external_id": "external_id", "name": "name"}}, kind="account")
    assert job.counts["rejected"] == 1
    assert job.errors == ["row 2: a record with this key exists and you may not change it"]
    assert Account.objects.get(external_id="S1").name == "South Co"


def test_xlsx_import(org, accounts, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Contact ID", "Full Name", "Email", "Account ID"])
    ws.append(["SF1", "张三", "zhang@example.cn", "A1"])
    ws.append([12345, "Bob", "bob@example", "A2"])
    wb.save(tmp_path / "sf.xlsx")
    from keyfit.imports.mapping import preset_mapping

    job = run(org.ae, tmp_path / "sf.xlsx", mapping=preset_mapping("salesforce", "contact"))
    assert job.counts == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert job.errors == ["row 3, column Email: Enter a valid email address."]


def test_mapping_with_unknown_field_is_refused(org, tmp_path):
    from keyfit.core.errors import ValidationFailed

    path = write_csv(tmp_path / "acc.csv", [["X1", "Acme"]], header=["external_id", "name"])
    job = services.import_job_create(actor=org.ae, kind="account", source_path=path)
    with pytest.raises(ValidationFailed) as exc:
        services.import_job_set_mapping(actor=org.ae, job=job, mapping=json.dumps({"columns": {"name": "nope"}}))
    assert exc.value.fields == {"columns.name": ["Unknown field “nope”."]}


def test_accounts_apply_the_accounts_app_rules(org, tmp_path):
    header = ["external_id", "name", "website", "currency", "country"]
    rows = [
        ["W1", "Acme", "https://www.Acme.cn/about", "usd", "cn"],
        ["W2", "Bad currency", "", "XYZ", ""],
        ["W3", "Bad country", "", "", "china"],
    ]
    job = run(
        org.ae,
        write_csv(tmp_path / "w.csv", rows, header=header),
        mapping={"columns": {h: h for h in header}},
        kind="account",
    )
    assert job.counts == {"rows": 3, "created": 1, "updated": 0, "unchanged": 0, "rejected": 2}
    assert job.errors == [
        "row 3, column currency: “XYZ” is not an ISO 4217 currency code.",
        "row 4, column country: Ensure this value has at most 2 characters (it has 5).",
    ]
    acme = Account.objects.get(external_id="W1")
    assert (acme.domain, acme.currency, acme.country) == ("acme.cn", "USD", "CN")
