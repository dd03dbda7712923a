"""Demo pipeline: a few hundred opportunities with back-dated stage histories, activities and the
discovery questions asked in them."""

import datetime
from decimal import Decimal

from django.utils import timezone

from keyfit.accounts.choices import BuyingRole, Lifecycle
from keyfit.core.demo import DemoContext
from keyfit.pipeline.choices import StageKind
from keyfit.pipeline.models import (
    Activity,
    ActivityQuestion,
    Contract,
    LostReason,
    Opportunity,
    OpportunityContact,
    Question,
    Stage,
    StageChange,
)

PRODUCTS = [
    ("MES 升级", "MES upgrade"),
    ("ERP 实施", "ERP implementation"),
    ("CRM 推广", "CRM rollout"),
    ("供应链可视化", "Supply chain visibility"),
    ("质量追溯平台", "Quality traceability platform"),
    ("数据中台", "Data platform"),
    ("设备预测性维护", "Predictive maintenance"),
    ("仓储自动化", "Warehouse automation"),
    ("财务共享中心", "Finance shared services"),
    ("电子签章", "E-signature"),
]
OUTCOMES = [
    "客户确认了痛点，需要安排技术交流。",
    "Customer agreed to a workshop with the plant managers.",
    "采购部要求先提供参考案例。",
    "The CFO asked for a business case by month end.",
    "演示效果好，客户希望试点。",
]
KIND_ZH = {
    "visit": "拜访",
    "call": "电话",
    "meeting": "会议",
    "demo": "演示",
    "email": "邮件",
    "proposal": "方案",
    "note": "备注",
}
ANSWERS = [
    "今年的审计发现了大量返工成本。",
    "Scrap rate is above 4% and the board wants it halved.",
    "预算由运营副总裁负责。",
    "They compare three suppliers on total cost and delivery time.",
    "希望三个月内在一个工厂上线。",
    "Success means on-time delivery above 95%.",
]


def _accounts(ctx: DemoContext, sellers):
    accounts = ctx.data.get("accounts")
    if isinstance(accounts, dict):
        accounts = list(accounts.values())
    if accounts:
        return list(accounts)
    from keyfit.accounts.models import Account, Contact

    created = []
    for i in range(20):
        owner = sellers[i % len(sellers)]
        account = Account.objects.create(name=f"演示客户 Demo Account {i + 1}", owner=owner, team=owner.team)
        for j in range(3):
            Contact.objects.create(account=account, name=f"联系人 Contact {i + 1}-{j + 1}")
        created.append(account)
    ctx.data["accounts"] = created
    return created


def seed(ctx: DemoContext) -> str:
    from keyfit.accounts.models import Contact

    rng = ctx.rng
    sellers = list(ctx.data.get("sellers") or [])
    if not sellers:
        from keyfit.users.models import User

        sellers = list(User.objects.filter(is_active=True)[:5])
    if not sellers:
        return "no users: skipped"
    accounts = _accounts(ctx, sellers)
    contacts_by_account: dict[int, list] = {}
    for contact in Contact.objects.filter(account__in=accounts).only("id", "account_id"):
        contacts_by_account.setdefault(contact.account_id, []).append(contact)
    stages = {s.code: s for s in Stage.objects.all()}
    success = [stages[c] for c in ("s5_onboarding", "s5_adoption", "s5_value_realised", "s5_renewal")]
    reasons = list(LostReason.objects.filter(active=True))
    questions = list(Question.objects.filter(active=True))
    now = timezone.now()
    count = max(20, int(300 * ctx.scale))

    plans = []  # (opportunity, [(stage, at)], lost_reason)
    for i in range(count):
        account = accounts[i % len(accounts)]
        owner = account.owner if account.owner_id in {s.pk for s in sellers} else sellers[i % len(sellers)]
        zh, en = PRODUCTS[rng.randrange(len(PRODUCTS))]
        start = now - datetime.timedelta(days=rng.randint(5, 400), hours=rng.randint(0, 23))
        path = [(stages["s3_guiding"], start)]
        at = start
        roll = rng.random()
        # Where the deal is today: S3 35%, S4 25%, lost 20%, won and beyond 20%.
        steps = ["s4_value"] if roll >= 0.35 else []
        if roll >= 0.60 and roll < 0.80:
            steps.append("lost")
        elif roll >= 0.80:
            steps += ["won", "s5_onboarding"] + [s.code for s in success[1 : rng.randint(1, 4)]]
        for code in steps:
            gap = (
                datetime.timedelta(days=rng.randint(3, 60), hours=rng.randint(0, 23))
                if code != "s5_onboarding"
                else datetime.timedelta(0)
            )
            if at + gap >= now:
                break
            at = at + gap
            path.append((stages[code], at))
        final = path[-1][0]
        amount = Decimal(rng.randrange(50, 5000) * 1000)
        opp = Opportunity(
            name=f"{account.name} · {zh} {en}",
            account=account,
            owner=owner,
            team=owner.team,
            stage=final,
            stage_entered_at=path[-1][1],
            amount=amount,
            currency="CNY" if rng.random() < 0.85 else "USD",
            expected_close_date=(start + datetime.timedelta(days=rng.randint(60, 200))).date(),
            computed_probability=final.default_probability,
            forecast_category=final.forecast_category,
            created_at=start,
        )
        if final.position >= stages["s4_value"].position or rng.random() < 0.4:
            opp.motivation = rng.choice(ANSWERS)
            opp.need = rng.choice(ANSWERS)
            opp.expectations = rng.choice(ANSWERS)
            opp.success_criteria = "交付准时率 > 95% / on-time delivery above 95%"
            opp.decision_criteria = "总拥有成本、交付周期 / total cost of ownership, lead time"
            opp.feasibility_confirmed = True
        if final.kind == StageKind.LOST:
            opp.lost_reason = rng.choice(reasons)
            opp.lost_on = path[-1][1].date()
        if any(s.kind == StageKind.WON for s, _ in path):
            opp.won_on = next(t for s, t in path if s.kind == StageKind.WON).date()
        if rng.random() < 0.1:
            opp.risk_only_method = True
        plans.append((opp, path))

    Opportunity.objects.bulk_create([opp for opp, _ in plans], batch_size=500)
    # Deals that reached the renewal stage of customer success have their renewal open in S3.
    renewals = []
    for opp, path in plans:
        if path[-1][0].code != "s5_renewal":
            continue
        at = path[-1][1] + datetime.timedelta(hours=1)
        if at >= now:
            continue
        renewal = Opportunity(
            name=f"{opp.name} · 续约 Renewal",
            account=opp.account,
            owner=opp.owner,
            team=opp.team,
            stage=stages["s3_guiding"],
            stage_entered_at=at,
            amount=opp.amount,
            currency=opp.currency,
            expected_close_date=opp.won_on + datetime.timedelta(days=365),
            computed_probability=stages["s3_guiding"].default_probability,
            forecast_category=stages["s3_guiding"].forecast_category,
            created_at=at,
            previous=opp,
            previous_link="renewal",
        )
        renewals.append((renewal, [(stages["s3_guiding"], at)]))
    Opportunity.objects.bulk_create([opp for opp, _ in renewals], batch_size=500)
    plans += renewals
    changes, deal_contacts, contracts, customers = [], [], [], set()
    for opp, path in plans:
        previous = None
        for stage, at in path:
            changes.append(
                StageChange(
                    opportunity=opp,
                    from_stage=previous[0] if previous else None,
                    to_stage=stage,
                    actor=opp.owner,
                    at=at,
                    seconds_in_previous=int((at - previous[1]).total_seconds()) if previous else None,
                )
            )
            previous = (stage, at)
        people = contacts_by_account.get(opp.account_id, [])
        for j, contact in enumerate(people[:3]):
            role = BuyingRole.ECONOMIC_BUYER if j == 0 and opp.feasibility_confirmed else BuyingRole.INFLUENCER
            deal_contacts.append(OpportunityContact(opportunity=opp, contact=contact, role=role, is_key=j == 0))
        if opp.won_on:
            customers.add(opp.account_id)
            contracts.append(
                Contract(
                    account_id=opp.account_id,
                    opportunity=opp,
                    signed_on=opp.won_on,
                    start_date=opp.won_on,
                    end_date=opp.won_on + datetime.timedelta(days=364),
                    annual_recurring_value=opp.amount,
                    currency=opp.currency,
                )
            )
    StageChange.objects.bulk_create(changes, batch_size=1000)
    OpportunityContact.objects.bulk_create(deal_contacts, batch_size=1000)
    Contract.objects.bulk_create(contracts, batch_size=500)
    from keyfit.accounts.models import Account

    Account.objects.filter(pk__in=customers).update(lifecycle=Lifecycle.CUSTOMER)

    activities, plan_questions = [], []
    kinds = ["visit", "call", "meeting", "demo", "email", "proposal", "note"]
    for opp, path in plans:
        start, end = path[0][1], path[-1][1] if path[-1][0].kind != StageKind.OPEN else now
        for _ in range(rng.randint(1, 4)):
            when = start + (end - start) * rng.random()
            kind = rng.choice(kinds)
            activity = Activity(
                kind=kind,
                subject=f"{KIND_ZH[kind]} · {opp.account.name}",
                account_id=opp.account_id,
                opportunity=opp,
                owner=opp.owner,
                team=opp.team,
                occurred_at=when,
                duration_minutes=rng.choice([15, 30, 45, 60, 90, 120]),
                channel="field" if kind in ("visit", "meeting", "demo") else "online",
                outcome=rng.choice(OUTCOMES),
                next_step=rng.choice(["发送方案", "Schedule a demo", "约见财务总监", "Send the reference case"]),
                next_step_date=(when + datetime.timedelta(days=rng.randint(1, 21))).date(),
                done=when + datetime.timedelta(days=21) < now or rng.random() < 0.5,
                created_at=when,
            )
            activities.append(activity)
            asked = rng.sample(questions, k=rng.randint(0, 3)) if kind in ("visit", "call", "meeting") else []
            plan_questions.append((activity, asked))
    Activity.objects.bulk_create(activities, batch_size=1000)
    asked_rows = [
        ActivityQuestion(activity=activity, question=q, answer=rng.choice(ANSWERS))
        for activity, asked in plan_questions
        for q in asked
    ]
    ActivityQuestion.objects.bulk_create(asked_rows, batch_size=1000)
    ctx.data["opportunities"] = [opp for opp, _ in plans]
    from keyfit.pipeline.summary import rebuild_board_summary

    rebuild_board_summary()  # bulk_create bypasses the signals that keep the board totals
    return f"{len(plans)} opportunities, {len(changes)} stage changes, {len(activities)} activities, {len(asked_rows)} questions asked"
