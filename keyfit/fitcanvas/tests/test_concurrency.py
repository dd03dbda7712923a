"""Respondents at once (PostgreSQL): no lost or duplicated answers, and no save lands after the close."""

import threading

import pytest
from django.db import connection, connections

from keyfit.core.errors import Conflict
from keyfit.fitcanvas import selectors, services
from keyfit.fitcanvas.models import Answer, Rater, Wave
from keyfit.fitcanvas.tests.factories import AccountFactory, ContactFactory, open_wave, statements_by_element

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between connections need PostgreSQL"
)


def run_in_threads(*targets):
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
        t.join(60)
    return results


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_rater_leave_one_row_per_statement(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    wave = open_wave(kam=org.kam, account=account, contacts=[ContactFactory(account=account)])
    rater = Rater.objects.get(wave=wave)
    ids = statements_by_element(wave.template_id)["PLAN_STRATEGY"]
    results = run_in_threads(
        *[
            (lambda v=v: services.answers_save(rater=rater, actor=None, answers=dict.fromkeys(ids, v)))
            for v in (1, 2, 3, 4, 5, 0)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = list(Answer.objects.filter(rater=rater).values_list("statement_id", "score"))
    assert sorted(sid for sid, _ in rows) == sorted(ids)
    assert len({score for _, score in rows}) == 1  # one save won as a whole


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_close_waits_for_in_flight_saves_and_refuses_later_ones(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    contacts = [ContactFactory(account=account) for _ in range(6)]
    wave = open_wave(kam=org.kam, account=account, contacts=contacts)
    raters = list(Rater.objects.filter(wave=wave))
    ids = [sid for sids in statements_by_element(wave.template_id).values() for sid in sids]
    saves = [
        (
            lambda r=r, i=i: services.answers_save(
                rater=r, actor=None, answers=dict.fromkeys(ids, 1 + i % 5), submit=True
            )
        )
        for i, r in enumerate(raters)
    ]
    results = run_in_threads(*saves, lambda: services.wave_close(wave=wave, actor=org.kam))
    assert all(isinstance(r, Rater | Wave | Conflict) for r in results), results
    wave.refresh_from_db()
    live = selectors.wave_compute_results(wave)
    frozen = dict(wave.results)
    frozen.pop("wave"), live.pop("wave")
    assert live == frozen  # every stored answer is in the snapshot
    saved = sum(isinstance(r, Rater) for r in results)
    assert Answer.objects.filter(rater__wave=wave).count() == saved * len(ids)
