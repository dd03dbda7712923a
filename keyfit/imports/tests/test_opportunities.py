import csv
import io

from keyfit.core.models import AuditEvent
from keyfit.imports import services
from keyfit.pipeline.models import Opportunity, StageChange


def write(path, rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def test_opportunities_with_stage_and_amount_go_through_the_service(org, accounts, tmp_path):
    rows = [
        ["Deal", "Account", "Stage", "Amount", "Close", "Owner"],
        ["ERP rollout", "A1", "S3 Guiding expectations", "¥1,200,000", "31/12/2026", "ae2@example.com"],
        ["CRM", "华东精密", "s3_guiding", "5000", "", ""],
        ["Bad stage", "A1", "Nowhere", "1", "", ""],
        ["Negative", "A2", "", "-5", "", ""],
        ["Bad date", "A2", "", "", "2026-13-45", ""],
    ]
    mapping = {
        "columns": {
            "Deal": "name",
            "Account": "account_external_id",
            "Stage": "stage",
            "Amount": "amount",
            "Close": "expected_close_date",
            "Owner": "owner_email",
        },
        "date_format": "%d/%m/%Y",
    }
    mapping_by_name = {**mapping, "columns": {**mapping["columns"]}}
    job = services.import_job_create(
        actor=org.east_manager,
        kind="opportunity",
        source_path=write(tmp_path / "o.csv", rows[:2] + rows[3:]),
        mapping=mapping,
    )
    job = services.import_job_start(actor=org.east_manager, job=job, inline=True)
    assert job.counts == {"rows": 4, "created": 1, "updated": 0, "unchanged": 0, "rejected": 3}, job.errors
    assert job.errors == [
        "row 3, column Stage: no such stage",
        "row 4, column Amount: Ensure this value is greater than or equal to 0.",
        "row 5, column Close: “2026-13-45” is not in the expected format.",
    ]
    again = services.import_job_create(
        actor=org.east_manager,
        kind="opportunity",
        source_path=write(tmp_path / "o2.csv", rows[:2] + rows[3:]),
        mapping=mapping,
    )
    again = services.import_job_start(actor=org.east_manager, job=again, inline=True)
    assert again.counts == {"rows": 4, "created": 0, "updated": 0, "unchanged": 1, "rejected": 3}
    erp = Opportunity.objects.get(name="ERP rollout")
    assert (str(erp.amount), erp.owner, erp.stage.code, str(erp.expected_close_date)) == (
        "1200000.00",
        org.ae2,
        "s3_guiding",
        "2026-12-31",
    )
    assert StageChange.objects.filter(opportunity=erp).count() == 1
    assert AuditEvent.objects.filter(object_id=str(erp.pk), action="create").exists()
    mapping_by_name["columns"]["Account"] = "account_name"
    mapping_by_name.pop("date_format")
    job = services.import_job_create(
        actor=org.ae,
        kind="opportunity",
        source_path=write(tmp_path / "p.csv", [rows[0], rows[2]]),
        mapping=mapping_by_name,
    )
    job = services.import_job_start(actor=org.ae, job=job, inline=True)
    assert job.counts["created"] == 1, job.errors
    assert Opportunity.objects.get(name="CRM").account.external_id == "A1"
