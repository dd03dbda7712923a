"""Demo value cases in every state, including the article's SCRM example (DESIGN §4 worked check).

Uses the opportunities earlier apps put in ``ctx.data["opportunities"]`` when there are any; otherwise it
creates its own small accounts and opportunities through the pipeline's service.
"""

import datetime

from keyfit.core.demo import DemoContext
from keyfit.valuecase import services

SCRM_DRIVERS = [
    {
        "contributor": "product",
        "description": "SCRM: fewer lost leads / SCRM：减少线索流失",
        "activity": "marketing_sales",
        "quantity": "50",
        "unit_value": "100",
        "basis_kind": "formula",
        "basis": "50 more deals a year × 100 margin each",
        "confidence": "medium",
    },
    {
        "contributor": "seller",
        "description": "Implementation guidance and training / 实施指导与培训",
        "activity": "technology",
        "amount": "1000",
        "basis_kind": "assumption",
        "basis": "two weeks of consultant time the customer does not spend",
        "confidence": "high",
    },
]
SCRM_COSTS = [
    {"kind": "price", "amount": "3000", "basis_kind": "formula", "basis": "annual licence"},
    {"kind": "internal_time", "amount": "500", "basis_kind": "assumption", "basis": "5 days of the customer's IT"},
]


def _opportunities(ctx: DemoContext, owner, count: int):
    found = [
        o
        for o in ctx.data.get("opportunities", [])
        if getattr(o, "owner_id", None) == owner.pk
        and o.stage.kind == "open"
        and not o.value_cases.exists()
        and o.account.contacts.exists()
    ]
    if len(found) >= count:
        return found[:count]
    from keyfit.accounts.models import Account, Contact
    from keyfit.pipeline.services import opportunity_create

    made = list(found)

    def _open(account, contact):
        opp = opportunity_create(
            actor=owner,
            account=account,
            name=f"{account.name.split()[0]} SCRM",
            owner=owner,
            currency=account.currency or "CNY",
            contacts=[(contact, "economic_buyer")],
        )
        for field in ("motivation", "need", "expectations", "success_criteria", "decision_criteria"):
            setattr(opp, field, "—")
        opp.feasibility_confirmed = True
        opp.save()
        made.append(opp)

    # the owner's demo accounts (keyfit/accounts/demo.py) first, then accounts of our own
    for account in [a for a in ctx.data.get("accounts", []) if a.owner_id == owner.pk]:
        if len(made) >= count:
            break
        contact = account.contacts.order_by("id").first()
        if contact is not None:
            _open(account, contact)
    names = [
        "星河零售 Xinghe Retail",
        "远航物流 Yuanhang Logistics",
        "华光制造 Huaguang Manufacturing",
        "青松医疗 Qingsong Health",
        "海岳金融 Haiyue Finance",
    ]
    for name in names[: max(0, count - len(made))]:
        account = Account.objects.create(name=name, owner=owner, team=owner.team, currency="CNY")
        contact = Contact.objects.create(account=account, name=f"{name.split()[0]} 采购总监", title="CFO")
        _open(account, contact)
    return made


def _build(actor, opp, ratings, *, items=()):
    case = services.value_case_create(actor=actor, opportunity=opp)
    for d in SCRM_DRIVERS:
        services.value_case_line_add(actor=actor, case=case, kind="drivers", data=d)
    for c in SCRM_COSTS:
        services.value_case_line_add(actor=actor, case=case, kind="costs", data=c)
    p, k, s = ratings
    services.value_case_line_add(actor=actor, case=case, kind="ratings", data={"product": p, "kpi": k, "service": s})
    for item in items:
        services.value_case_line_add(actor=actor, case=case, kind="items", data=item)
    case.refresh_from_db()
    return case


def _send(actor, case, acknowledge=False):
    contact = case.opportunity.account.contacts.first()
    case, token = services.value_case_send(actor=actor, case=case, contact=contact)
    if acknowledge:
        services.customer_acknowledge(case_id=case.pk, token=token)
        case.refresh_from_db()
    return case


def seed(ctx: DemoContext) -> str:
    users = ctx.data.get("users", {})
    actor = users.get("east.ae@keyfit.demo") or next(iter(users.values()), None)
    if actor is None:
        return "skipped (no users)"
    opps = _opportunities(ctx, actor, 5)
    cases = []
    # 1. The article's SCRM example: v1 2/2/3 (net −1,500, sent), v2 4/4/5 acknowledged (net +1,500).
    v1 = _send(actor, _build(actor, opps[0], (2, 2, 3)))
    services.value_case_update(
        actor=actor,
        case=services.value_case_create(actor=actor, opportunity=opps[0]),
        version=None,
        data={"summary": "After the on-site workshop the buying group re-rated the fit."},
    )
    v2 = opps[0].value_cases.get(number=2)
    services.value_case_line_add(actor=actor, case=v2, kind="ratings", data={"product": 4, "kpi": 4, "service": 5})
    v2 = _send(actor, v2, acknowledge=True)
    cases += [v1, v2]
    # 2. A draft.
    cases.append(_build(actor, opps[1], (3, 3, 3)))
    # 3. A case at close with realised value, 4. one marked realised.
    for opp, realised in ((opps[2], False), (opps[3], True)):
        case = _send(actor, _build(actor, opp, (4, 5, 4)), acknowledge=True)
        services.value_case_close(actor=actor, case=case)
        driver = case.drivers.first()
        for month in (1, 2, 3):
            services.realisation_add(
                actor=actor, case=case, driver_id=driver.pk, on=datetime.date(2026, month, 28), amount="1200"
            )
        if realised:
            services.value_case_mark_realised(actor=actor, case=case)
        cases.append(case)
    # 5. A sent case with a hospitality item: flagged for managers.
    cases.append(
        _send(
            actor,
            _build(
                actor,
                opps[4],
                (3, 4, 4),
                items=[
                    {"kind": "hospitality_gift", "description": "Dinner with the CFO / 与CFO晚宴", "amount": "800"},
                    {"kind": "reference_price", "description": "Competitor quoted 4,200", "amount": "700"},
                ],
            ),
        )
    )
    ctx.data["value_cases"] = cases
    return f"{len(cases)} value cases"
