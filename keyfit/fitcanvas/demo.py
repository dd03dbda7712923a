"""Demo fit assessments: a key account with two closed waves and an open one. Communication is a
persistent blind spot (the supplier rates it about two points above the customer in every wave)."""

import datetime

from django.utils import timezone

from keyfit.core.demo import DemoContext
from keyfit.core.roles import Role
from keyfit.fitcanvas import services
from keyfit.fitcanvas.choices import ELEMENT_CODES
from keyfit.fitcanvas.models import Rater, Statement, Wave

# element → (supplier target, customer target) per wave; communication stays a blind spot
TARGETS = [
    {
        "PLAN_STRATEGY": (4, 3),
        "PLAN_RELATIONSHIPS": (4, 3),
        "PLAN_COMMUNICATION": (4, 2),
        "EXEC_SOLUTIONS": (4, 4),
        "EXEC_PROCESSES": (3, 3),
        "EXEC_SYSTEMS": (3, 3),
        "RES_TALENT": (4, 4),
        "RES_STRUCTURE": (3, 2),
        "RES_KNOWLEDGE": (2, 3),
    },
    {
        "PLAN_STRATEGY": (4, 4),
        "PLAN_RELATIONSHIPS": (4, 4),
        "PLAN_COMMUNICATION": (4, 2),
        "EXEC_SOLUTIONS": (4, 4),
        "EXEC_PROCESSES": (4, 3),
        "EXEC_SYSTEMS": (3, 3),
        "RES_TALENT": (4, 4),
        "RES_STRUCTURE": (3, 3),
        "RES_KNOWLEDGE": (3, 3),
    },
    {
        "PLAN_STRATEGY": (4, 4),
        "PLAN_RELATIONSHIPS": (5, 4),
        "PLAN_COMMUNICATION": (4, 3),
        "EXEC_SOLUTIONS": (4, 4),
        "EXEC_PROCESSES": (4, 4),
        "EXEC_SYSTEMS": (3, 3),
        "RES_TALENT": (4, 4),
        "RES_STRUCTURE": (3, 3),
        "RES_KNOWLEDGE": (3, 4),
    },
]


def _values(data):
    if isinstance(data, dict):
        return list(data.values())
    return list(data or [])


def _account_and_contacts(ctx: DemoContext, kam):
    from keyfit.accounts.models import Account, Contact

    accounts = [a for a in _values(ctx.data.get("accounts")) if isinstance(a, Account)]
    account = next((a for a in accounts if a.owner_id == kam.pk), None) or (accounts[0] if accounts else None)
    if account is None:
        account = Account.objects.create(
            name="华东精密制造 East China Precision",
            owner=kam,
            team=kam.team,
            tier="key",
            lifecycle="customer",
            industry="",
            country="CN",
            city="苏州",
        )
    contacts = [c for c in _values(ctx.data.get("contacts")) if getattr(c, "account_id", None) == account.pk][:2]
    people = [("孙总 Sun Hao", "首席运营官 COO", "zh-hans"), ("Emily Zhang", "VP Procurement", "en")]
    for name, title, language in people[len(contacts) :]:
        contacts.append(
            Contact.objects.create(
                account=account,
                name=name,
                title=title,
                language=language,
                email=f"{name.split()[-1].lower()}.{account.pk}@customer.demo",
            )
        )
    return account, contacts


def _answer(rater: Rater, targets: dict[str, tuple[int, int]], ctx: DemoContext, statements) -> None:
    side = 0 if rater.side == "supplier" else 1
    answers = {}
    for statement in statements:
        base = targets[statement.element][side]
        answers[statement.pk] = min(5, max(1, base + ctx.rng.choice([0, 0, 0, 1, -1])))
    services.answers_save(
        rater=rater, actor=rater.user, answers=answers, submit=True, horizon="long" if side == 0 else "short"
    )


def seed(ctx: DemoContext) -> str:
    users = _values(ctx.data.get("users"))
    kam = next((u for u in users if u.role == Role.KEY_ACCOUNT_MANAGER), None)
    if kam is None:
        return "no key account manager: skipped"
    colleagues = [u for u in users if u.team_id == kam.team_id and u.pk != kam.pk][:2]
    account, contacts = _account_and_contacts(ctx, kam)
    statements = list(Statement.objects.filter(template__is_default=True, retired=False))
    today = timezone.localdate()
    waves = []
    for index, (name, months_ago) in enumerate([("2026 H1", 8), ("2026 Q3", 4), ("2026 Q4", 0)]):
        wave = services.wave_create(
            account=account, actor=kam, name=f"{account.name} · {name}", due_date=today + datetime.timedelta(days=14)
        )
        for user in [kam, *colleagues]:
            services.rater_add(wave=wave, actor=kam, user=user)
        for contact in contacts:
            services.rater_add(wave=wave, actor=kam, contact=contact)
        wave = services.wave_open(wave=wave, actor=kam)
        raters = list(wave.raters.select_related("user", "contact"))
        closed = months_ago > 0
        answering = (
            raters
            if closed
            else [r for r in raters if r.side == "supplier"] + [r for r in raters if r.side == "customer"][:1]
        )
        for rater in answering:
            _answer(rater, TARGETS[index], ctx, statements)
        if closed:
            wave = services.wave_close(wave=wave, actor=kam)
            services.wave_share(wave=wave, actor=kam, items=["overall", "levels", "strengths"])
            due = today - datetime.timedelta(days=30 * months_ago)
            wave.results["trend"][-1]["date"] = due.isoformat()  # the demo back-dates the wave after closing
            Wave.objects.filter(pk=wave.pk).update(due_date=due, results=wave.results)
        waves.append(wave)
    ctx.data["fit_waves"] = waves
    ctx.data["fit_account"] = account
    assert set(ELEMENT_CODES) == {s.element for s in statements}
    return f"{len(waves)} fit waves for {account.name}"
