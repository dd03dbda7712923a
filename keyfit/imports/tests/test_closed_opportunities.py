"""Closed deals in an import: the history of won and lost deals a team brings from its previous CRM."""

import datetime

from keyfit.accounts.models import Account
from keyfit.core.models import AuditEvent
from keyfit.imports.tests.test_pipeline_kinds import run, write
from keyfit.pipeline.models import Contract, Opportunity, StageChange

MAPPING = {
    "columns": {
        "Id": "external_id",
        "Deal": "name",
        "Account": "account_external_id",
        "Stage": "stage",
        "Amount": "amount",
        "Close": "expected_close_date",
        "Won": "won_on",
        "Reason": "lost_reason",
    },
    "date_format": "%Y-%m-%d",
}
HEADER = ["Id", "Deal", "Account", "Stage", "Amount", "Close", "Won", "Reason"]


def _history(external_id):
    opp = Opportunity.objects.get(external_id=external_id)
    return [
        (c.from_stage.code if c.from_stage else None, c.to_stage.code, c.at.date().isoformat(), c.override)
        for c in StageChange.objects.filter(opportunity=opp).order_by("id")
    ]


def test_won_and_lost_deals_import_as_closed_history(org, accounts, tmp_path):
    rows = [
        HEADER,
        ["W1", "MES rollout", "A1", "Won", "120000", "2025-03-31", "2025-04-02", ""],
        ["W2", "Line 2", "A1", "s5_adoption", "80000", "2025-06-30", "", ""],
        ["L1", "Pilot", "A2", "赢单", "5000", "2025-01-15", "", ""],
        ["L2", "Scanner", "A2", "Lost", "9000", "2025-02-10", "", "Lost to a competitor"],
        ["L3", "Old tender", "A2", "lost", "9000", "2025-02-11", "", "Price too high"],
        ["L4", "Forgotten", "A2", "丢单", "1", "2025-02-12", "", ""],
        ["F1", "Future", "A2", "won", "1", "2099-01-01", "", ""],
        ["O1", "Open one", "A2", "s3_guiding", "1", "2026-12-31", "2026-01-01", ""],
    ]
    job = run(org.east_manager, "opportunity", write(tmp_path / "closed.csv", rows), MAPPING)
    assert job.counts == {"rows": 8, "created": 6, "updated": 0, "unchanged": 0, "rejected": 2}, job.errors
    assert job.errors == [
        "row 8: won_on: A close date cannot be in the future.",
        "row 9: won_on: only a won or lost deal has this date",
    ]
    w1 = Opportunity.objects.get(external_id="W1")
    assert (w1.stage.code, w1.won_on, w1.lost_on, w1.computed_probability) == (
        "s5_onboarding",
        datetime.date(2025, 4, 2),
        None,
        100,
    )
    assert _history("W1") == [(None, "won", "2025-04-02", True), ("won", "s5_onboarding", "2025-04-02", True)]
    assert _history("W2") == [(None, "won", "2025-06-30", True), ("won", "s5_adoption", "2025-06-30", True)]
    assert Opportunity.objects.get(external_id="L1").stage.code == "s5_onboarding"  # 赢单 is "Won" in Chinese
    l2, l3, l4 = (Opportunity.objects.get(external_id=e) for e in ("L2", "L3", "L4"))
    assert (l2.stage.code, l2.lost_on, l2.lost_reason.code, l2.lost_note) == (
        "lost",
        datetime.date(2025, 2, 10),
        "competitor",
        "",
    )
    assert (l3.lost_reason.code, l3.lost_note) == ("other", "Price too high")  # the old system's words kept
    assert (l4.lost_reason.code, l4.lost_note) == ("other", "")
    assert _history("L2") == [(None, "lost", "2025-02-10", True)]
    # A won deal makes its account a customer; a lost one does not. No contract is made up.
    assert Account.objects.get(external_id="A1").lifecycle == "customer"
    assert Contract.objects.count() == 0
    assert AuditEvent.objects.filter(verb="recorded_closed").count() == 6

    again = run(org.east_manager, "opportunity", write(tmp_path / "again.csv", rows), MAPPING)
    assert again.counts == {"rows": 8, "created": 0, "updated": 0, "unchanged": 6, "rejected": 2}, again.errors
    assert StageChange.objects.filter(opportunity__external_id="W1").count() == 2


def test_only_admins_and_managers_record_closed_deals(org, accounts, tmp_path):
    rows = [HEADER, ["W9", "Claimed win", "A1", "won", "1", "2025-03-31", "", ""]]
    job = run(org.ae, "opportunity", write(tmp_path / "w.csv", rows), MAPPING)
    assert job.counts["rejected"] == 1 and job.counts["created"] == 0
    assert "Only an administrator or a manager may record closed opportunities." in job.errors[0]
    assert not Opportunity.objects.filter(external_id="W9").exists()


def test_an_open_deal_moved_to_lost_by_a_file_takes_its_reason(org, accounts, tmp_path):
    rows = [HEADER, ["O5", "Open", "A1", "s3_guiding", "1", "2026-12-31", "", ""]]
    assert run(org.east_manager, "opportunity", write(tmp_path / "o.csv", rows), MAPPING).counts["created"] == 1
    rows = [HEADER, ["O5", "Open", "A1", "lost", "1", "2026-12-31", "", "No budget"]]
    job = run(org.east_manager, "opportunity", write(tmp_path / "o2.csv", rows), MAPPING)
    assert job.counts["updated"] == 1, job.errors
    opp = Opportunity.objects.get(external_id="O5")
    assert (opp.stage.code, opp.lost_reason.code) == ("lost", "budget")
    assert _history("O5")[-1][:2] == ("s3_guiding", "lost")


def test_salesforce_opportunity_export_with_its_preset(org, accounts, tmp_path):
    from keyfit.imports.mapping import preset_mapping

    rows = [
        ["Opportunity ID", "Opportunity Name", "Account ID", "Stage", "Amount", "Close Date", "Loss Reason"],
        ["006A1", "Sensors", "A1", "Prospecting", "100", "2027-01-31", ""],
        ["006A2", "Gateways", "A1", "Proposal/Price Quote", "200", "2027-02-28", ""],
        ["006A3", "Retrofit", "A2", "Closed Won", "300", "2025-05-31", ""],
        ["006A4", "Audit", "A2", "Closed Lost", "400", "2025-06-30", "Budget"],
    ]
    mapping = {**preset_mapping("salesforce", "opportunity"), "date_format": "%Y-%m-%d"}
    job = run(org.east_manager, "opportunity", write(tmp_path / "sf.csv", rows), mapping)
    assert job.counts == {"rows": 4, "created": 4, "updated": 0, "unchanged": 0, "rejected": 0}, job.errors
    got = {
        o.external_id: (o.stage.code, o.expected_close_date.isoformat(), o.won_on, o.lost_on)
        for o in Opportunity.objects.select_related("stage")
    }
    assert got == {
        "006A1": ("s3_guiding", "2027-01-31", None, None),
        "006A2": ("s4_value", "2027-02-28", None, None),
        "006A3": ("s5_onboarding", "2025-05-31", datetime.date(2025, 5, 31), None),
        "006A4": ("lost", "2025-06-30", None, datetime.date(2025, 6, 30)),
    }
    audit = Opportunity.objects.get(external_id="006A4")
    assert (audit.lost_reason.code, audit.lost_note) == ("budget", "")  # matched by code, ignoring case
