"""Demo leads: routing teams (capacity and round robin) on a Shanghai calendar, ICP fit rules, a web
form, leads in every status, SLA breaches, a merged duplicate and one converted lead."""

import datetime
from decimal import Decimal

from django.utils import timezone

from keyfit.core.demo import DemoContext
from keyfit.leads import services
from keyfit.leads.models import (
    CalendarException,
    FitRule,
    Lead,
    RoutingMember,
    RoutingRule,
    RoutingTeam,
    ValueThreshold,
    WebForm,
    WorkingCalendar,
)
from keyfit.leads.routing import route_leads

HOLIDAYS_2026 = [
    ("2026-01-01", "元旦 New Year"),
    ("2026-02-16", "春节 Spring Festival"),
    ("2026-02-17", "春节 Spring Festival"),
    ("2026-02-18", "春节 Spring Festival"),
    ("2026-02-19", "春节 Spring Festival"),
    ("2026-02-20", "春节 Spring Festival"),
    ("2026-04-06", "清明节 Qingming"),
    ("2026-05-01", "劳动节 Labour Day"),
    ("2026-05-04", "劳动节 Labour Day"),
    ("2026-06-19", "端午节 Dragon Boat"),
    ("2026-09-25", "中秋节 Mid-Autumn"),
    ("2026-10-01", "国庆节 National Day"),
    ("2026-10-02", "国庆节 National Day"),
    ("2026-10-05", "国庆节 National Day"),
    ("2026-10-06", "国庆节 National Day"),
    ("2026-10-07", "国庆节 National Day"),
]
COMPANIES = [
    ("杭州云桥科技有限公司", "yunqiao-tech.cn", "saas", "250-999", "Zhejiang"),
    ("上海启明软件有限公司", "qiming-soft.cn", "saas", "50-249", "Shanghai"),
    ("苏州精工机械有限公司", "jinggong-mach.cn", "manufacturing", "1000+", "Jiangsu"),
    ("深圳汇通电子有限公司", "huitong-elec.cn", "manufacturing", "250-999", "Guangdong"),
    ("广州恒安物流有限公司", "hengan-log.cn", "logistics", "50-249", "Guangdong"),
    ("南京博远数据有限公司", "boyuan-data.cn", "saas", "10-49", "Jiangsu"),
    ("东莞鼎盛新材料有限公司", "dingsheng-mat.cn", "manufacturing", "250-999", "Guangdong"),
    ("宁波海天零售有限公司", "haitian-retail.cn", "retail", "1000+", "Zhejiang"),
    ("成都瑞信金融服务有限公司", "ruixin-fin.cn", "finance", "250-999", "Sichuan"),
    ("武汉创新教育科技有限公司", "chuangxin-edu.cn", "education", "10-49", "Hubei"),
    ("Northwind Logistics GmbH", "northwind.example", "logistics", "1000+", ""),
    ("Bluepeak Analytics Inc.", "bluepeak.example", "saas", "50-249", ""),
]
PEOPLE = [
    ("王磊", "CIO"),
    ("李娜", "IT Director"),
    ("张伟", "COO"),
    ("刘洋", "Sales VP"),
    ("陈静", "CFO"),
    ("赵敏", "Head of Digital"),
]


def seed(ctx: DemoContext) -> str:
    users = ctx.data.get("users", {})
    teams = ctx.data.get("teams", {})
    admin = next((u for u in users.values() if u.is_superuser), None)
    calendar = WorkingCalendar.objects.create(
        name="中国大陆 Mainland China",
        timezone="Asia/Shanghai",
        weekdays=[0, 1, 2, 3, 4],
        day_start=datetime.time(9, 0),
        day_end=datetime.time(18, 0),
    )
    for day, name in HOLIDAYS_2026:
        CalendarException.objects.create(calendar=calendar, date=datetime.date.fromisoformat(day), name=name)
    for day in ("2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"):
        CalendarException.objects.create(
            calendar=calendar, date=datetime.date.fromisoformat(day), working=True, name="调休 make-up day"
        )

    east = RoutingTeam.objects.create(
        team=teams["east"], strategy="capacity", sla_minutes=240, calendar=calendar, reassign_on_breach=True
    )
    south = RoutingTeam.objects.create(team=teams["south"], strategy="round_robin", sla_minutes=480, calendar=calendar)
    intl = RoutingTeam.objects.create(team=teams["intl"], strategy="least_loaded", sla_minutes=480)
    members = [
        (east, "east.sdr@keyfit.demo", 150, False, [{"field": "industry", "operator": "eq", "value": "saas"}]),
        (east, "east.ae@keyfit.demo", 90, False, []),
        (east, "east.kam@keyfit.demo", 60, True, []),
        (south, "south.sdr@keyfit.demo", None, False, []),
        (south, "south.ae@keyfit.demo", None, False, []),
        (intl, "intl.ae@keyfit.demo", None, False, []),
        (intl, "intl.kam@keyfit.demo", None, False, []),
    ]
    for position, (rt, email, cap, paused, prefs) in enumerate(members):
        RoutingMember.objects.create(
            routing_team=rt,
            user=users[email],
            position=position,
            max_per_30_days=cap,
            paused=paused,
            preferred_filters=prefs,
        )
    RoutingRule.objects.create(
        name="East China SaaS",
        position=1,
        routing_team=east,
        conditions=[
            {"field": "industry", "operator": "eq", "value": "saas"},
            {"field": "region", "operator": "in", "value": ["Shanghai", "Zhejiang", "Jiangsu"]},
        ],
    )
    RoutingRule.objects.create(
        name="South China manufacturing",
        position=2,
        routing_team=south,
        conditions=[
            {"field": "region", "operator": "in", "value": ["Guangdong", "Fujian"]},
        ],
    )
    RoutingRule.objects.create(
        name="International",
        position=3,
        routing_team=intl,
        conditions=[
            {"field": "region", "operator": "is_set", "value": False},
        ],
    )
    RoutingRule.objects.create(name="Everything else → East", position=9, routing_team=east, conditions=[])

    for position, (name, field, operator, value, points) in enumerate(
        [
            ("目标行业 Target industry", "industry", "in", ["saas", "manufacturing"], 35),
            ("规模 100+ Mid-size and up", "company_size", "in", ["250-999", "1000+"], 30),
            ("决策层 Decision maker title", "contact_title", "contains", "C", 15),
            ("重点区域 Focus regions", "region", "in", ["Shanghai", "Zhejiang", "Jiangsu", "Guangdong"], 20),
            ("学生 Student", "contact_title", "contains", "student", -50),
        ]
    ):
        FitRule.objects.create(name=name, field=field, operator=operator, value=value, points=points, position=position)
    ValueThreshold.objects.create(segment="10-49", min_value=Decimal("30000"), currency="CNY")
    WebForm.objects.create(
        slug="contact",
        title_en="Talk to a value consultant",
        title_zh_hans="预约价值顾问",
        source="web_form",
        campaign="官网 Website",
    )
    WebForm.objects.create(
        slug="expo-2026",
        title_en="China SaaS Expo 2026",
        title_zh_hans="2026 中国 SaaS 大会",
        source="event",
        campaign="SaaS Expo 2026",
    )

    rng = ctx.rng
    now = timezone.now()
    created = []
    count = max(12, int(36 * ctx.scale))
    for i in range(count):
        company, domain, industry, size, region = COMPANIES[i % len(COMPANIES)]
        person, title = PEOPLE[i % len(PEOPLE)]
        lead = services.lead_create(
            actor=admin,
            data={
                "source": rng.choice(["web_form", "social", "event", "white_paper", "outbound", "partner"]),
                "campaign": rng.choice(["SaaS Expo 2026", "白皮书：销售黑洞", "微信社群", ""]),
                "company_name": company,
                "company_domain": domain,
                "industry": industry,
                "company_size": size,
                "region": region,
                "contact_name": f"{person}{i}",
                "contact_title": title,
                "email": f"contact{i}@{domain}",
                "phone": f"+86 138 {1000 + i:04d} {rng.randint(1000, 9999)}",
                "priority": rng.randint(20, 90),
            },
        )
        created.append(lead)
    # a likely duplicate of the first lead (same mobile, different spelling of the e-mail)
    dup = services.lead_create(
        actor=admin,
        data={
            "source": "import",
            "contact_name": created[0].contact_name,
            "email": created[0].email.upper(),
            "phone": created[0].phone.replace(" ", "-"),
        },
    )
    route_leads(actor=admin, seed=ctx.seed, now=now - datetime.timedelta(days=3))
    created = [Lead.objects.get(pk=lead.pk) for lead in created]
    for lead in created[: count // 2]:
        services.lead_screen1(actor=lead.owner or admin, lead=lead)
    screened = [Lead.objects.get(pk=lead.pk) for lead in created[: count // 2]]
    passed = [lead for lead in screened if lead.screen1_result == "pass"]
    for index, lead in enumerate(passed):
        actor = lead.owner or admin
        if index % 3 == 0:
            services.lead_signal_add(
                actor=actor, lead=lead, signal_type="proposal", originator="customer", note="请提供方案和报价"
            )
            services.lead_screen2(
                actor=actor,
                lead=Lead.objects.get(pk=lead.pk),
                data={
                    "need_confirmed": True,
                    "purchase_intent": "yes",
                    "estimated_value": Decimal(rng.choice([180000, 260000, 420000])),
                },
            )
        elif index % 3 == 1:
            services.lead_signal_add(
                actor=actor, lead=lead, signal_type="outreach", originator="us", note="首次电话沟通"
            )
            services.lead_screen2(
                actor=actor,
                lead=Lead.objects.get(pk=lead.pk),
                data={"need_confirmed": True, "purchase_intent": "unknown"},
            )
        else:
            services.lead_disqualify(
                actor=actor,
                lead=Lead.objects.get(pk=lead.pk),
                reason_code="need_no_intent_to_solve",
                note="有痛点但今年无预算",
            )
    converted = 0
    for lead in Lead.objects.filter(status="qualified").order_by("id")[:2]:
        services.lead_convert(actor=lead.owner or admin, lead=lead)
        converted += 1
    # nurture and the SLA-breach examples: leads routed days ago and never touched
    leftover = Lead.objects.filter(status="new", owner__isnull=False).order_by("id")
    for lead in leftover[:2]:
        services.lead_nurture(actor=lead.owner, lead=lead, note="明年预算周期再联系")
    breaches = services.leads_check_slas(now=now)
    services.leads_merge(actor=admin, target=created[0], sources=[Lead.objects.get(pk=dup.pk)])
    ctx.data["leads"] = list(Lead.objects.order_by("id"))
    return f"{Lead.objects.count()} leads, {converted} converted, {breaches['breached']} SLA breaches"
