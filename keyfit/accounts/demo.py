"""Demo accounts and contacts: ~200 Chinese and international B2B customers with buying centres.

Needs ``ctx.data["sellers"]`` (keyfit/users/demo.py). Puts ``ctx.data["accounts"]`` (list of Account)
and ``ctx.data["contacts"]`` (list of Contact) and ``ctx.data["custom_fields"]`` (definitions by key).
Rows are bulk-created (demo data is not user input); the services' rules are respected by construction.
"""

from decimal import Decimal

from keyfit.accounts.choices import BuyingRole, Industry, Lifecycle, Seniority, SizeBand, Tier
from keyfit.accounts.models import Account, Contact
from keyfit.core.demo import DemoContext
from keyfit.core.models import CustomFieldDefinition

CN_CITIES = [
    ("杭州", "浙江", "hangzhou"),
    ("上海", "上海", "shanghai"),
    ("苏州", "江苏", "suzhou"),
    ("南京", "江苏", "nanjing"),
    ("宁波", "浙江", "ningbo"),
    ("深圳", "广东", "shenzhen"),
    ("广州", "广东", "guangzhou"),
    ("东莞", "广东", "dongguan"),
    ("佛山", "广东", "foshan"),
    ("厦门", "福建", "xiamen"),
    ("北京", "北京", "beijing"),
    ("成都", "四川", "chengdu"),
    ("武汉", "湖北", "wuhan"),
    ("西安", "陕西", "xian"),
]
CN_WORDS = [
    ("云启", "yunqi"),
    ("数智", "shuzhi"),
    ("恒信", "hengxin"),
    ("华创", "huachuang"),
    ("博远", "boyuan"),
    ("精工", "jinggong"),
    ("瑞丰", "ruifeng"),
    ("天合", "tianhe"),
    ("星辰", "xingchen"),
    ("汇通", "huitong"),
    ("远航", "yuanhang"),
    ("嘉禾", "jiahe"),
    ("鼎盛", "dingsheng"),
    ("立信", "lixin"),
    ("新锐", "xinrui"),
    ("明德", "mingde"),
    ("凯达", "kaida"),
    ("中联", "zhonglian"),
]
CN_SUFFIX = {
    Industry.SAAS: ("科技有限公司", "tech"),
    Industry.MANUFACTURING: ("精密制造有限公司", "mfg"),
    Industry.RETAIL: ("商贸有限公司", "trade"),
    Industry.FINANCE: ("金融服务有限公司", "fin"),
    Industry.HEALTHCARE: ("医疗器械有限公司", "med"),
    Industry.LOGISTICS: ("供应链管理有限公司", "scm"),
    Industry.AUTOMOTIVE: ("汽车零部件股份有限公司", "auto"),
    Industry.ENERGY: ("新能源股份有限公司", "energy"),
    Industry.EDUCATION: ("教育科技有限公司", "edu"),
    Industry.PROFESSIONAL: ("管理咨询有限公司", "consult"),
}
INTL = [
    ("Nordlicht Maschinenbau GmbH", "DE", "Bavaria", "Munich", Industry.MANUFACTURING, "EUR"),
    ("Helvetia Precision AG", "CH", "Zurich", "Zurich", Industry.MANUFACTURING, "CHF"),
    ("Brightwater Logistics Ltd", "GB", "England", "Manchester", Industry.LOGISTICS, "GBP"),
    ("Pacific Rim Foods Pte Ltd", "SG", "Singapore", "Singapore", Industry.RETAIL, "SGD"),
    ("Kestrel Analytics Inc.", "US", "California", "San Jose", Industry.SAAS, "USD"),
    ("Maple Grove Health Corp.", "CA", "Ontario", "Toronto", Industry.HEALTHCARE, "CAD"),
    ("Sakura Mobility K.K.", "JP", "Aichi", "Nagoya", Industry.AUTOMOTIVE, "JPY"),
    ("Hanil Battery Co., Ltd.", "KR", "Gyeonggi", "Suwon", Industry.ENERGY, "KRW"),
    ("Lumen Finance S.A.", "FR", "Île-de-France", "Paris", Industry.FINANCE, "EUR"),
    ("Orbis Consulting BV", "NL", "North Holland", "Amsterdam", Industry.PROFESSIONAL, "EUR"),
    ("Southern Cross Mining Pty Ltd", "AU", "Western Australia", "Perth", Industry.ENERGY, "AUD"),
    ("Victoria Harbour Trading Ltd", "HK", "Hong Kong", "Hong Kong", Industry.RETAIL, "HKD"),
    ("Andes Agro S.A.", "CL", "Santiago", "Santiago", Industry.RETAIL, "USD"),
    ("Bharat Auto Components Pvt Ltd", "IN", "Maharashtra", "Pune", Industry.AUTOMOTIVE, "INR"),
    ("Nusantara Learning Sdn Bhd", "MY", "Selangor", "Kuala Lumpur", Industry.EDUCATION, "MYR"),
    ("Siam Cold Chain Co., Ltd.", "TH", "Bangkok", "Bangkok", Industry.LOGISTICS, "THB"),
]
CN_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
CN_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "婷", "鹏", "慧"]
EN_FIRST = ["Anna", "Lukas", "Emma", "Oliver", "Sophie", "Daniel", "Mia", "Thomas", "Hannah", "Kenji", "Mei", "Ravi"]
EN_LAST = ["Müller", "Smith", "Tanaka", "Kim", "Dubois", "Jansen", "Brown", "Patel", "Tan", "Rossi", "Novak", "Lee"]
# (title zh, title en, department zh, department en, seniority, role, level)
CENTRE = [
    ("总经理", "Managing Director", "总经办", "Management", Seniority.EXECUTIVE, BuyingRole.ECONOMIC_BUYER, 0),
    ("首席信息官", "CIO", "信息中心", "IT", Seniority.EXECUTIVE, BuyingRole.DECISION_MAKER, 1),
    ("财务总监", "CFO", "财务部", "Finance", Seniority.EXECUTIVE, BuyingRole.ECONOMIC_BUYER, 1),
    ("IT 经理", "IT Manager", "信息中心", "IT", Seniority.MANAGEMENT, BuyingRole.CHAMPION, 2),
    ("采购经理", "Procurement Manager", "采购部", "Procurement", Seniority.MANAGEMENT, BuyingRole.GATEKEEPER, 2),
    ("运营主管", "Operations Lead", "运营部", "Operations", Seniority.OPERATIONAL, BuyingRole.USER, 3),
]
MOTIVATIONS = [
    ("降低运营成本，今年预算收紧", "Cut operating cost; budgets are tight this year"),
    ("希望数字化项目在年底前见效", "Wants the digital programme to show results by year end"),
    ("关注数据安全与合规", "Cares about data security and compliance"),
    ("想在集团内部树立标杆项目", "Wants a flagship project inside the group"),
]
KPIS = [
    ("库存周转天数下降 15%", "Inventory days down 15%"),
    ("交付准时率 ≥ 98%", "On-time delivery ≥ 98%"),
    ("销售线索转化率提升", "Higher lead conversion"),
    ("IT 运维成本下降 20%", "IT run cost down 20%"),
]
SIZE_EMPLOYEES = {
    SizeBand.SMALL: (10, 49),
    SizeBand.MEDIUM: (50, 249),
    SizeBand.LARGE: (250, 999),
    SizeBand.ENTERPRISE: (1000, 20000),
}


def _custom_fields() -> dict[str, CustomFieldDefinition]:
    definitions = [
        CustomFieldDefinition(
            target="account",
            key="ownership",
            label_en="Ownership",
            label_zh_hans="企业性质",
            field_type=CustomFieldDefinition.Type.CHOICE,
            choices=[
                {"value": "private", "label_en": "Private", "label_zh_hans": "民营"},
                {"value": "soe", "label_en": "State-owned", "label_zh_hans": "国有"},
                {"value": "foreign", "label_en": "Foreign-invested", "label_zh_hans": "外资"},
                {"value": "listed", "label_en": "Listed", "label_zh_hans": "上市公司"},
            ],
            position=1,
        ),
        CustomFieldDefinition(
            target="account",
            key="it_budget",
            label_en="IT budget (yearly)",
            label_zh_hans="年度 IT 预算",
            field_type=CustomFieldDefinition.Type.MONEY,
            position=2,
        ),
        CustomFieldDefinition(
            target="account",
            key="framework_agreement",
            label_en="Framework agreement",
            label_zh_hans="框架协议",
            field_type=CustomFieldDefinition.Type.BOOLEAN,
            position=3,
        ),
        CustomFieldDefinition(
            target="contact",
            key="met_in_person",
            label_en="Met in person",
            label_zh_hans="已当面拜访",
            field_type=CustomFieldDefinition.Type.DATE,
            position=1,
        ),
    ]
    CustomFieldDefinition.objects.bulk_create(definitions)
    return {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=[d.key for d in definitions])}


def _person(rng, international: bool) -> tuple[str, str]:
    if international:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        return f"{first} {last}", f"{first}.{last}".lower().replace("ü", "ue")
    surname, given = rng.choice(CN_SURNAMES), rng.choice(CN_GIVEN) + rng.choice(["", *CN_GIVEN])
    return surname + given, f"user{rng.randint(100, 999)}"


def seed(ctx: DemoContext) -> str:
    rng = ctx.rng
    sellers = ctx.data.get("sellers") or []
    if not sellers:
        return "no sellers: skipped"
    intl_sellers = [s for s in sellers if s.team and "International" in s.team.name] or sellers
    cn_sellers = [s for s in sellers if s not in intl_sellers] or sellers
    definitions = _custom_fields()
    total = max(20, round(200 * ctx.scale))
    accounts: list[Account] = []
    used: set[str] = set()
    industries = list(CN_SUFFIX)
    n_intl = max(4, total // 8)
    for i in range(total - n_intl):
        city, region, city_py = rng.choice(CN_CITIES)
        word, word_py = rng.choice(CN_WORDS)
        industry = industries[i % len(industries)]
        suffix, suffix_py = CN_SUFFIX[industry]
        name = f"{city}{word}{suffix}"
        if name in used:
            word2, word2_py = rng.choice(CN_WORDS)
            name, word_py = f"{city}{word}{word2}{suffix}", f"{word_py}{word2_py}"
        if name in used:
            continue
        used.add(name)
        owner = rng.choice(cn_sellers)
        band = rng.choice(list(SIZE_EMPLOYEES))
        lo, hi = SIZE_EMPLOYEES[band]
        employees = rng.randint(lo, hi)
        domain = f"{city_py}-{word_py}-{suffix_py}.example.cn"
        accounts.append(
            Account(
                name=name,
                legal_name=name,
                website=f"https://www.{domain}",
                domain=domain,
                industry=industry,
                size_band=band,
                employees=employees,
                annual_revenue=Decimal(employees * rng.randint(300, 1500)) * 1000,
                currency="CNY",
                country="CN",
                region=region,
                city=city,
                tier=rng.choices([Tier.STRATEGIC, Tier.KEY, Tier.STANDARD], weights=[1, 3, 8])[0],
                lifecycle=rng.choices([Lifecycle.PROSPECT, Lifecycle.CUSTOMER, Lifecycle.CHURNED], weights=[6, 5, 1])[
                    0
                ],
                owner=owner,
                team_id=owner.team_id,
                external_id=f"CRM-{10000 + i}",
                custom_fields=_account_custom(rng, definitions),
            )
        )
    for j in range(n_intl):
        name, country, region, city, industry, currency = INTL[j % len(INTL)]
        if j >= len(INTL):
            name = f"{name.split()[0]} {city} Branch"
        if name in used:
            continue
        used.add(name)
        owner = rng.choice(intl_sellers)
        employees = rng.randint(200, 8000)
        slug = "".join(ch for ch in name.lower().split()[0] if ch.isalnum())
        accounts.append(
            Account(
                name=name,
                legal_name=name,
                website=f"https://www.{slug}.example.com",
                domain=f"{slug}.example.com",
                industry=industry,
                size_band=SizeBand.ENTERPRISE if employees >= 1000 else SizeBand.LARGE,
                employees=employees,
                annual_revenue=Decimal(employees * rng.randint(80, 250)) * 1000,
                currency=currency,
                country=country,
                region=region,
                city=city,
                tier=rng.choices([Tier.STRATEGIC, Tier.KEY, Tier.STANDARD], weights=[2, 3, 4])[0],
                lifecycle=rng.choice([Lifecycle.PROSPECT, Lifecycle.CUSTOMER]),
                owner=owner,
                team_id=owner.team_id,
                external_id=f"CRM-{20000 + j}",
                custom_fields=_account_custom(rng, definitions, international=True),
            )
        )
    Account.objects.bulk_create(accounts)
    accounts = list(Account.objects.order_by("id"))
    # A few groups: subsidiaries of strategic accounts in the same city.
    strategic = [a for a in accounts if a.tier == Tier.STRATEGIC]
    for parent in strategic[:5]:
        for child in [a for a in accounts if a.city == parent.city and a.pk != parent.pk and a.parent_id is None][:1]:
            child.parent = parent
            child.save(update_fields=["parent"])

    contacts: list[Contact] = []
    n = 0
    for account in accounts:
        international = account.country != "CN"
        size = rng.randint(2, 5)
        centre = [CENTRE[0], *rng.sample(CENTRE[1:], size - 1)]
        people = []
        for title_zh, title_en, dept_zh, dept_en, seniority, role, level in centre:
            name, handle = _person(rng, international)
            n += 1
            motivation = rng.choice(MOTIVATIONS)
            kpi = rng.choice(KPIS)
            contact = Contact(
                account=account,
                name=name,
                title=title_en if international else title_zh,
                department=dept_en if international else dept_zh,
                email=f"{handle}.{n}@{account.domain}",
                phone=f"+86 1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}" if not international else "",
                wechat_id="" if international else f"wx_{handle}{n}",
                seniority=seniority,
                buying_role=role,
                relationship_strength=rng.randint(1, 5),
                motivations=motivation[1] if international else motivation[0],
                personal_kpis=kpi[1] if international else kpi[0],
                language="en" if international else "zh-hans",
                external_id=f"CT-{n:06d}",
                custom_fields={"met_in_person": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}"}
                if rng.random() < 0.4
                else {},
            )
            people.append((level, contact))
        contacts.extend(c for _, c in people)
    Contact.objects.bulk_create(contacts)
    # reports-to: each contact reports to someone one level up in the same account (the top has none).
    by_account: dict[int, list[Contact]] = {}
    for contact in Contact.objects.order_by("id"):
        by_account.setdefault(contact.account_id, []).append(contact)
    updates = []
    for people in by_account.values():
        ranked = sorted(people, key=lambda c: _level(c))
        for contact in ranked[1:]:
            level = _level(contact)
            bosses = [p for p in ranked if _level(p) < level]
            if bosses:
                boss = max(bosses, key=lambda p: _level(p))
                contact.reports_to_id = boss.pk
                updates.append(contact)
    Contact.objects.bulk_update(updates, ["reports_to"], batch_size=500)
    contacts = list(Contact.objects.order_by("id"))
    ctx.data["accounts"] = accounts
    ctx.data["contacts"] = contacts
    ctx.data["custom_fields"] = definitions
    return f"{len(accounts)} accounts, {len(contacts)} contacts, {len(definitions)} custom fields"


def _level(contact: Contact) -> int:
    for t in CENTRE:
        if contact.title in (t[0], t[1]):
            return t[6]
    return 9


def _account_custom(rng, definitions, international: bool = False) -> dict:
    values: dict = {}
    if "ownership" in definitions:
        values["ownership"] = (
            "foreign" if international else rng.choices(["private", "soe", "listed"], weights=[6, 2, 2])[0]
        )
    if rng.random() < 0.6:
        values["it_budget"] = f"{rng.randint(5, 500) * 10000}.00"
    if rng.random() < 0.3:
        values["framework_agreement"] = True
    return values
