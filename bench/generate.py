"""Bulk-load realistic synthetic data of any size into the configured database, fast.

    python -m bench.generate --accounts 1000000 --contacts-per-account 2 [--database-url URL]

PostgreSQL is loaded with COPY, SQLite with batched executemany in one transaction per batch. Rows are
built from the model's own fields (defaults fill whatever a generator does not set), so the generator
keeps working when models gain columns. Loading is additive and idempotent by size: asking for 1,000,000
accounts when 10,000 exist adds 990,000.
"""

import argparse
import datetime
import decimal
import json
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

CITIES = [
    ("上海", "Shanghai", "上海"),
    ("杭州", "Hangzhou", "浙江"),
    ("苏州", "Suzhou", "江苏"),
    ("南京", "Nanjing", "江苏"),
    ("深圳", "Shenzhen", "广东"),
    ("广州", "Guangzhou", "广东"),
    ("东莞", "Dongguan", "广东"),
    ("北京", "Beijing", "北京"),
    ("成都", "Chengdu", "四川"),
    ("武汉", "Wuhan", "湖北"),
    ("宁波", "Ningbo", "浙江"),
    ("青岛", "Qingdao", "山东"),
    ("天津", "Tianjin", "天津"),
    ("西安", "Xi'an", "陕西"),
    ("合肥", "Hefei", "安徽"),
    ("厦门", "Xiamen", "福建"),
]
BRAND = list("华中国云启智联创新达信通泰恒安科瑞博远鼎盛荣汇海天宏图金辰")
TRADE = {
    "saas": ["科技", "软件", "信息技术", "数据"],
    "manufacturing": ["精密制造", "机械", "电子", "新材料"],
    "retail": ["商贸", "零售", "消费品"],
    "finance": ["金融服务", "融资租赁"],
    "healthcare": ["医疗器械", "生物科技"],
    "logistics": ["物流", "供应链"],
    "education": ["教育科技"],
    "energy": ["新能源", "能源"],
    "automotive": ["汽车零部件"],
    "professional": ["咨询", "企业服务"],
}
INTL = [
    ("Northwind", "DE", "Berlin"),
    ("Bluepeak", "US", "Austin"),
    ("Lakeshore", "US", "Chicago"),
    ("Fjordline", "NO", "Oslo"),
    ("Sakura Denki", "JP", "Osaka"),
    ("Meridian", "SG", "Singapore"),
    ("Helvetia Precision", "CH", "Basel"),
    ("Kestrel", "GB", "Leeds"),
    ("Orchid", "MY", "Kuala Lumpur"),
]
INTL_SUFFIX = {
    "DE": "GmbH",
    "US": "Inc.",
    "NO": "AS",
    "JP": "K.K.",
    "SG": "Pte. Ltd.",
    "CH": "AG",
    "GB": "Ltd",
    "MY": "Sdn Bhd",
}
TIERS = ["standard"] * 8 + ["key", "strategic"]
LIFECYCLES = ["prospect"] * 6 + ["customer"] * 3 + ["churned"]
SIZES = ["1-9", "10-49", "50-249", "250-999", "1000+"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "建华",
    "晓东",
]
TITLES = [
    ("总经理", "executive"),
    ("首席信息官", "executive"),
    ("采购总监", "management"),
    ("IT 经理", "management"),
    ("财务总监", "executive"),
    ("运营经理", "management"),
    ("采购专员", "operational"),
    ("系统管理员", "operational"),
]
ROLES = ["economic_buyer", "decision_maker", "champion", "influencer", "user", "gatekeeper", "blocker"]


# --- loading ------------------------------------------------------------------------------------


def _converter(field, vendor: str):
    internal = field.get_internal_type()
    if internal == "JSONField":
        return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
    if vendor == "sqlite":
        if internal == "DateTimeField":
            return lambda v: None if v is None else v.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
        if internal == "DateField":
            return lambda v: None if v is None else v.isoformat()
        if internal == "DecimalField":
            return lambda v: None if v is None else str(v)
    return None


def bulk_insert(model, rows: Iterable[dict[str, Any]], *, batch: int = 20_000) -> int:
    """Insert dict rows into `model`'s table; keys are attnames; missing ones take the field default."""
    from django.db import connection, transaction

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    attnames = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    converters = [_converter(f, connection.vendor) for f in fields]
    table = model._meta.db_table
    qn = connection.ops.quote_name

    def tuples(chunk: list[dict[str, Any]]) -> Iterator[tuple]:
        for row in chunk:
            values = []
            for name, convert in zip(attnames, converters, strict=True):
                value = row[name] if name in row else defaults[name]
                values.append(convert(value) if convert else value)
            yield tuple(values)

    total = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal total
        if not chunk:
            return
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for values in tuples(chunk):
                        copy.write_row(values)
            else:
                placeholders = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({placeholders})"
                cursor.executemany(sql, list(tuples(chunk)))
        total += len(chunk)
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            flush()
    flush()
    return total


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- organisation -----------------------------------------------------------------------------------


def ensure_org(*, teams: int = 10, users_per_team: int = 20) -> dict[str, Any]:
    """Bench teams and users (idempotent). Returns {'admin', 'managers', 'team_ids', 'owners'}."""
    from keyfit.core.roles import Role
    from keyfit.users.models import Team, User

    hq, _ = Team.objects.get_or_create(name="Bench HQ")
    admin = User.objects.filter(email="bench.admin@keyfit.bench").first()
    if admin is None:
        admin = User.objects.create_user(
            "bench.admin@keyfit.bench", "bench-password", full_name="Bench Admin", role=Role.ADMIN, language="en"
        )
    team_ids, owners, managers = [], [], []
    for t in range(teams):
        team, _ = Team.objects.get_or_create(name=f"Bench team {t:02d}", defaults={"parent": hq})
        team_ids.append(team.id)
        manager = User.objects.filter(email=f"bench.manager{t:02d}@keyfit.bench").first()
        if manager is None:
            manager = User.objects.create_user(
                f"bench.manager{t:02d}@keyfit.bench",
                "bench-password",
                full_name=f"Bench Manager {t:02d}",
                role=Role.MANAGER,
                team=team,
                language="en",
            )
            team.manager = manager
            team.save(update_fields=["manager"])
        managers.append(manager)
        existing = list(User.objects.filter(team=team, role=Role.ACCOUNT_EXECUTIVE).values_list("id", flat=True))
        for u in range(len(existing), users_per_team):
            existing.append(
                User.objects.create_user(
                    f"bench.rep{t:02d}.{u:02d}@keyfit.bench",
                    None,
                    full_name=f"销售 {t:02d}-{u:02d}",
                    role=Role.ACCOUNT_EXECUTIVE,
                    team=team,
                    language="zh-hans",
                ).id
            )
        owners.extend((uid, team.id) for uid in existing)
    return {"admin": admin, "managers": managers, "team_ids": team_ids, "owners": owners}


# --- accounts and contacts ----------------------------------------------------------------------------


def _account_row(i: int, rng: random.Random, owners: list[tuple[int, int]], now: datetime.datetime) -> dict[str, Any]:
    owner_id, team_id = owners[i % len(owners)]
    if rng.random() < 0.85:
        city, city_en, region = rng.choice(CITIES)
        industry = rng.choice(list(TRADE))
        name = f"{city}{''.join(rng.sample(BRAND, 2))}{rng.choice(TRADE[industry])}有限公司"
        country, domain_stem = "CN", f"{city_en.lower().replace(chr(39), '')}{i}"
    else:
        stem, country, city = rng.choice(INTL)
        city_en, region, industry = city, "", rng.choice(list(TRADE))
        name = f"{stem} {rng.choice(['Systems', 'Industries', 'Logistics', 'Health', 'Energy'])} {INTL_SUFFIX[country]}"
        domain_stem = f"{stem.lower().replace(' ', '')}{i}"
    created = now - datetime.timedelta(days=rng.randint(0, 1500), seconds=rng.randint(0, 86400))
    return {
        "name": name,
        "legal_name": name,
        "website": f"https://www.{domain_stem}.com",
        "domain": f"{domain_stem}.com",
        "industry": industry,
        "size_band": rng.choice(SIZES),
        "employees": rng.randint(5, 20000),
        "annual_revenue": decimal.Decimal(rng.randint(1, 50000)) * 10000,
        "currency": "CNY" if country == "CN" else "USD",
        "country": country,
        "region": region,
        "city": city if country == "CN" else city_en,
        "tier": rng.choice(TIERS),
        "lifecycle": rng.choice(LIFECYCLES),
        "owner_id": owner_id,
        "team_id": team_id,
        "parent_id": None,
        "external_id": f"BENCH-A{i:08d}",
        "custom_fields": {},
        "created_at": created,
        "updated_at": created,
        "version": 1,
    }


def generate_accounts(total: int, *, seed: int = 7, org: dict[str, Any] | None = None) -> int:
    """Make the number of bench accounts `total`; returns how many were added."""
    from django.utils import timezone

    from keyfit.accounts.models import Account

    org = org or ensure_org()
    have = Account.objects.filter(external_id__startswith="BENCH-A").count()
    if have >= total:
        return 0
    rng = random.Random(seed + have)
    now = timezone.now()
    return bulk_insert(Account, (_account_row(i, rng, org["owners"], now) for i in range(have, total)))


def generate_contacts(per_account: int, *, seed: int = 11) -> int:
    """Give every bench account without contacts `per_account` contacts."""
    from django.utils import timezone

    from keyfit.accounts.models import Account, Contact

    if per_account <= 0:
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    start = (
        Contact.objects.filter(external_id__startswith="BENCH-C")
        .order_by("-account_id")
        .values_list("account_id", flat=True)
        .first()
        or 0
    )
    ids = (
        Account.objects.filter(external_id__startswith="BENCH-A", id__gt=start)
        .order_by("id")
        .values_list("id", flat=True)
        .iterator(chunk_size=50_000)
    )

    def rows():
        for account_id in ids:
            for k in range(per_account):
                title, seniority = rng.choice(TITLES)
                name = rng.choice(SURNAMES) + rng.choice(GIVEN)
                yield {
                    "account_id": account_id,
                    "name": name,
                    "title": title,
                    "department": "",
                    "email": f"c{account_id}.{k}@example.cn",
                    "phone": f"+86 13{rng.randint(100000000, 999999999)}",
                    "wechat_id": "",
                    "seniority": seniority,
                    "buying_role": rng.choice(ROLES),
                    "relationship_strength": rng.randint(1, 5),
                    "motivations": "",
                    "personal_kpis": "",
                    "reports_to_id": None,
                    "language": "zh-hans",
                    "external_id": f"BENCH-C{account_id}-{k}",
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }

    return bulk_insert(Contact, rows())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--contacts-per-account", type=int, default=0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    from bench.setup import configure, migrate

    configure(args.database_url)
    migrate()
    started = time.perf_counter()
    added = generate_accounts(args.accounts)
    print(f"accounts: +{added} in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    added = generate_contacts(args.contacts_per_account)
    print(f"contacts: +{added} in {time.perf_counter() - started:.1f}s")
    analyze()


if __name__ == "__main__":
    main()
