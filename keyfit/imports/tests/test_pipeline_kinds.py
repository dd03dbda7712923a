import csv
import datetime
import io

from keyfit.imports import services
from keyfit.pipeline.models import Activity, Contract, Opportunity, StageChange


def write(path, rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def run(actor, kind, path, mapping):
    job = services.import_job_create(actor=actor, kind=kind, source_path=path, mapping=mapping)
    return services.import_job_start(actor=actor, job=job, inline=True)


OPP_MAPPING = {
    "columns": {
        "Id": "external_id",
        "Deal": "name",
        "Account": "account_external_id",
        "Stage": "stage",
        "Amount": "amount",
        "Currency": "currency",
        "Owner": "owner_email",
    }
}
OPP_HEADER = ["Id", "Deal", "Account", "Stage", "Amount", "Currency", "Owner"]


def test_opportunities_upsert_by_external_id_and_move_stages_through_the_service(org, accounts, tmp_path):
    rows = [
        OPP_HEADER,
        ["O1", "ERP", "A1", "S4 Creating value", "1,000", "USD", "ae2@example.com"],
        ["O2", "CRM", "A2", "s3_guiding", "5000", "CNY", ""],
        ["O3", "Won deal", "A2", "s6_won", "1", "CNY", ""],
        ["O4", "Nowhere", "A9", "s3_guiding", "1", "CNY", ""],
    ]
    job = run(org.east_manager, "opportunity", write(tmp_path / "a.csv", rows), OPP_MAPPING)
    assert job.counts == {"rows": 4, "created": 2, "updated": 0, "unchanged": 0, "rejected": 2}, job.errors
    assert job.errors[1] == "row 5, column Account: no such account"
    erp = Opportunity.objects.get(external_id="O1")
    assert (erp.name, str(erp.amount), erp.currency, erp.stage.code, erp.owner) == (
        "ERP",
        "1000.00",
        "USD",
        "s4_value",
        org.ae2,
    )
    again = run(org.east_manager, "opportunity", write(tmp_path / "b.csv", rows[:3]), OPP_MAPPING)
    assert again.counts == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    # Back to S3 (no gate) is a move with its history row; CRM forward to S4 is refused by the gate.
    moved = [OPP_HEADER, [*rows[1][:3], "s3_guiding", *rows[1][4:]], [*rows[2][:3], "s4_value", *rows[2][4:]]]
    job = run(org.east_manager, "opportunity", write(tmp_path / "c.csv", moved), OPP_MAPPING)
    assert job.counts == {"rows": 2, "created": 0, "updated": 1, "unchanged": 0, "rejected": 1}, job.errors
    assert job.errors[0].startswith("row 3, column Stage: ")
    erp.refresh_from_db()
    assert erp.stage.code == "s3_guiding"
    assert list(StageChange.objects.filter(opportunity=erp).values_list("to_stage__code", flat=True)) == [
        "s4_value",
        "s3_guiding",
    ]
    assert Opportunity.objects.get(external_id="O2").stage.code == "s3_guiding"


def test_activities_contracts_and_stage_history(org, accounts, tmp_path):
    run(
        org.east_manager,
        "opportunity",
        write(tmp_path / "o.csv", [OPP_HEADER, ["O1", "ERP", "A1", "s3_guiding", "1000", "CNY", ""]]),
        OPP_MAPPING,
    )
    opp = Opportunity.objects.get(external_id="O1")
    acts = [
        ["Id", "Type", "Subject", "Deal", "Account", "When"],
        ["X1", "Visit", "First visit", "O1", "", "2026-03-01T10:00:00+08:00"],
        ["X2", "call", "Call", "", "A2", "2026-03-02T10:00:00+08:00"],
        ["X3", "dance", "Bad kind", "", "A2", ""],
        ["X4", "note", "No account", "", "", ""],
        ["X5", "note", "Unknown deal", "O9", "", ""],
    ]
    mapping = {
        "columns": {
            "Id": "external_id",
            "Type": "kind",
            "Subject": "subject",
            "Deal": "opportunity_external_id",
            "Account": "account_external_id",
            "When": "occurred_at",
        }
    }
    job = run(org.east_manager, "activity", write(tmp_path / "a.csv", acts), mapping)
    assert job.counts == {"rows": 5, "created": 2, "updated": 0, "unchanged": 0, "rejected": 3}, job.errors
    assert job.errors == [
        "row 4, column Type: “dance” is not one of the allowed choices.",
        "row 5: an account is required",
        "row 6, column Deal: no such opportunity",
    ]
    visit = Activity.objects.get(external_id="X1")
    assert (visit.kind, visit.opportunity, visit.account, visit.owner) == (
        "visit",
        opp,
        accounts["A1"],
        org.east_manager,
    )
    again = run(org.east_manager, "activity", write(tmp_path / "b.csv", acts[:3]), mapping)
    assert again.counts == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "rejected": 0}

    contracts = [
        ["Id", "Deal", "Signed", "Start", "End", "ARV", "Currency"],
        ["C1", "O1", "2026-01-10", "2026-02-01", "2027-01-31", "120000", "CNY"],
        ["C2", "", "", "2026-02-01", "2027-01-31", "1", "CNY"],
        ["C3", "O1", "", "2026-02-01", "2025-01-31", "1", "CNY"],
    ]
    cmap = {
        "columns": {
            "Id": "external_id",
            "Deal": "opportunity_external_id",
            "Signed": "signed_on",
            "Start": "start_date",
            "End": "end_date",
            "ARV": "annual_recurring_value",
            "Currency": "currency",
        }
    }
    job = run(org.east_manager, "contract", write(tmp_path / "c.csv", contracts), cmap)
    assert job.counts == {"rows": 3, "created": 1, "updated": 0, "unchanged": 0, "rejected": 2}, job.errors
    assert job.errors == [
        "row 3: an opportunity (its external id) is required",
        "row 4: end_date: The end is before the start.",
    ]
    contract = Contract.objects.get(external_id="C1")
    assert (contract.account, contract.opportunity, str(contract.annual_recurring_value)) == (
        accounts["A1"],
        opp,
        "120000.00",
    )
    again = run(org.east_manager, "contract", write(tmp_path / "c2.csv", contracts[:2]), cmap)
    assert again.counts == {"rows": 1, "created": 0, "updated": 0, "unchanged": 1, "rejected": 0}

    # History older than the opportunity's own first row; the created row's time in stage follows.
    StageChange.objects.filter(opportunity=opp).update(at=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))
    history = [
        ["Id", "Deal", "From", "To", "At", "By"],
        ["H1", "O1", "", "S1 Lead assignment", "2026-01-01T00:00:00+00:00", "ae@example.com"],
        ["H2", "O1", "s1_lead", "s2_conversion", "2026-01-02T00:00:00+00:00", ""],
        ["H3", "O1", "s2_conversion", "nowhere", "2026-01-03T00:00:00+00:00", ""],
        ["", "O1", "s2_conversion", "s3_guiding", "2026-01-03T00:00:00+00:00", ""],
        ["H5", "O9", "", "s1_lead", "2026-01-01T00:00:00+00:00", ""],
    ]
    hmap = {
        "columns": {
            "Id": "external_id",
            "Deal": "opportunity_external_id",
            "From": "from_stage",
            "To": "to_stage",
            "At": "at",
            "By": "actor_email",
        }
    }
    job = run(org.east_manager, "stage_change", write(tmp_path / "h.csv", history), hmap)
    assert job.counts == {"rows": 5, "created": 2, "updated": 0, "unchanged": 0, "rejected": 3}, job.errors
    assert job.errors == [
        "row 4, column To: no such stage",
        "row 5: a history row needs an external id",
        "row 6, column Deal: no such opportunity",
    ]
    rows = list(
        StageChange.objects.filter(opportunity=opp).values_list(
            "external_id", "to_stage__code", "seconds_in_previous", "actor__email"
        )
    )
    assert rows == [
        ("H1", "s1_lead", None, "ae@example.com"),
        ("H2", "s2_conversion", 86400, None),
        (None, "s3_guiding", 58 * 86400, "east.manager@example.com"),
    ]
    again = run(org.east_manager, "stage_change", write(tmp_path / "h2.csv", history[:3]), hmap)
    assert again.counts == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert StageChange.objects.filter(opportunity=opp).count() == 3


def test_pipeline_exports_reimport_unchanged(org, accounts, tmp_path):
    from keyfit.imports.exporting import export_kind
    from keyfit.imports.kinds import get_kind

    run(
        org.admin,
        "opportunity",
        write(tmp_path / "o.csv", [OPP_HEADER, ["O1", "ERP", "A1", "s4_value", "1000", "CNY", "ae@example.com"]]),
        OPP_MAPPING,
    )
    opp = Opportunity.objects.get(external_id="O1")
    StageChange.objects.filter(opportunity=opp).update(external_id="H-1")
    Activity.objects.create(
        kind="call",
        subject="Call",
        account=accounts["A1"],
        opportunity=opp,
        owner=org.ae,
        team=org.ae.team,
        external_id="X1",
    )
    for kind in ("opportunity", "activity", "stage_change"):
        path = tmp_path / f"{kind}.csv"
        k = get_kind(kind)
        assert export_kind(k, k.visible(org.admin), path) == 1
        job = run(org.admin, kind, path, None)
        assert job.counts == {"rows": 1, "created": 0, "updated": 0, "unchanged": 1, "rejected": 0}, (kind, job.errors)


def test_board_totals_follow_an_import_that_updates_amounts(org, accounts, tmp_path):
    from decimal import Decimal

    from django.db.models import Sum

    from keyfit.pipeline.models import BoardSummary

    rows = [OPP_HEADER, ["O1", "ERP", "A1", "s3_guiding", "1000", "CNY", ""]]
    run(org.east_manager, "opportunity", write(tmp_path / "a.csv", rows), OPP_MAPPING)
    rows[1][4] = "2500"
    job = run(org.east_manager, "opportunity", write(tmp_path / "b.csv", rows), OPP_MAPPING)
    assert job.counts["updated"] == 1
    live = Opportunity.objects.aggregate(total=Sum("amount"))["total"]
    assert live == Decimal("2500")
    assert BoardSummary.objects.aggregate(total=Sum("amount"))["total"] == live


def test_board_totals_follow_an_import_that_creates_opportunities(org, accounts, tmp_path):
    from decimal import Decimal

    from django.db.models import Sum

    from keyfit.pipeline.models import BoardSummary

    rows = [
        OPP_HEADER,
        ["O1", "ERP", "A1", "s3_guiding", "1000", "CNY", ""],
        ["O2", "BI", "A1", "s4_value", "250", "CNY", ""],
    ]
    job = run(org.east_manager, "opportunity", write(tmp_path / "a.csv", rows), OPP_MAPPING)
    assert job.counts["created"] == 2, job.errors
    assert Opportunity.objects.aggregate(total=Sum("amount"))["total"] == Decimal("1250")
    assert BoardSummary.objects.aggregate(total=Sum("amount"))["total"] == Decimal("1250")
    assert BoardSummary.objects.aggregate(n=Sum("count"))["n"] == 2
