"""Two people at once: optimistic locking on edits, row locks on moves (PostgreSQL only)."""

import itertools
import threading

import pytest
from django.db import connection, connections

from keyfit.core.errors import Conflict
from keyfit.pipeline.models import Opportunity, StageChange
from keyfit.pipeline.services import opportunity_move, opportunity_update

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between connections need PostgreSQL"
)


@pytest.mark.django_db
def test_stale_edit_gets_409_with_current_values_and_loses_nothing(make_opportunity, org):
    opp = make_opportunity(org.ae)
    first = Opportunity.objects.get(pk=opp.pk)
    second = Opportunity.objects.get(pk=opp.pk)
    opportunity_update(actor=org.ae, opportunity=first, version=first.version, data={"need": "Cut scrap by 5%"})
    with pytest.raises(Conflict) as exc:
        opportunity_update(actor=org.east_manager, opportunity=second, version=second.version, data={"need": "Other"})
    assert exc.value.status == 409
    assert exc.value.extra["current"]["need"] == "Cut scrap by 5%"
    assert exc.value.extra["current"]["version"] == 2
    opp.refresh_from_db()
    assert opp.need == "Cut scrap by 5%" and opp.version == 2


def _run_in_threads(*targets):
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def wrap(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_one_wins_one_gets_409(make_opportunity, org):
    opp = make_opportunity(org.ae)
    results = _run_in_threads(
        lambda: opportunity_update(actor=org.ae, opportunity=opp, version=1, data={"motivation": "A"}),
        lambda: opportunity_update(actor=org.east_manager, opportunity=opp, version=1, data={"motivation": "B"}),
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    winners = [r for r in results if isinstance(r, Opportunity)]
    assert len(conflicts) == 1 and len(winners) == 1
    opp.refresh_from_db()
    assert opp.motivation == winners[0].motivation and opp.version == 2
    assert conflicts[0].extra["current"]["motivation"] == opp.motivation


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_give_consistent_history(make_opportunity, org):
    opp = make_opportunity(org.ae, ready=True)
    results = _run_in_threads(
        lambda: opportunity_move(actor=org.ae, opportunity=opp.pk, stage_code="s4_value"),
        lambda: opportunity_move(actor=org.east_manager, opportunity=opp.pk, stage_code="lost", lost_reason="timing"),
    )
    assert not [r for r in results if not isinstance(r, Opportunity | Exception)]
    rows = list(StageChange.objects.filter(opportunity=opp).order_by("at", "id"))
    # The time of a move is read after its lock: history order by time is the order of commits.
    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    # Each row starts where the previous one ended, whatever the order the two moves ran in.
    for before, after in itertools.pairwise(rows):
        assert after.from_stage_id == before.to_stage_id
    opp.refresh_from_db()
    assert opp.stage_id == rows[-1].to_stage_id
    assert len(rows) in (2, 3)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_moves_one_refused(make_opportunity, org):
    opp = make_opportunity(org.ae, ready=True)
    results = _run_in_threads(
        lambda: opportunity_move(actor=org.ae, opportunity=opp.pk, stage_code="s4_value", version=1),
        lambda: opportunity_move(actor=org.east_manager, opportunity=opp.pk, stage_code="s4_value", version=1),
    )
    assert sum(isinstance(r, Opportunity) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    codes = list(StageChange.objects.filter(opportunity=opp).order_by("id").values_list("to_stage__code", flat=True))
    assert codes == ["s3_guiding", "s4_value"]
