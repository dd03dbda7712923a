"""routing: route --size new leads (default 100,000) through ordered rules, three team strategies,
preferred filters, paused members and daily quotas, every decision logged, on PostgreSQL.

value    = leads routed per second by `keyfit.leads.routing.route_leads`        (target ≥ 20,000/s)
baseline = leads per second of a bare set-based SQL round-robin UPDATE of the same leads, same run
ratio    = routing time / bare UPDATE time
Also: online routing of single new leads (`lead_create(route=True)`) from 8 concurrent producer
processes (target ≥ 500 leads/s, no lead assigned twice, no quota overrun) and the duplicate lookup of a
new lead at 1,000,000 leads (target p95 ≤ 5 ms).
"""

import datetime
import multiprocessing
import os
import random
import time

DEFAULT_SIZE = 100_000
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kf_leads_bench"
INDUSTRIES = ["saas", "manufacturing", "retail", "finance", "healthcare", "logistics", "education", "energy"]
REGIONS = ["Shanghai", "Zhejiang", "Jiangsu", "Guangdong", "Beijing", "Sichuan", "Hubei", "Shandong"]
SIZES = ["1-9", "10-49", "50-249", "250-999", "1000+"]
PRODUCTS = ["scrm", "erp", "crm", "bi"]


def add_arguments(parser):
    parser.add_argument("--batch", type=int, default=20_000, help="leads per routing transaction")
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--online", type=int, default=4000, help="leads created by the online producers")
    parser.add_argument(
        "--online-warmup", type=int, default=10, help="leads each producer creates before the timed ones"
    )
    parser.add_argument("--dedupe-size", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--skip-dedupe", action="store_true")
    parser.add_argument("--profile", action="store_true")


def _ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _lead_row(i: int, rng: random.Random, now: datetime.datetime, **extra) -> dict:
    company = f"bench{i}"
    row = {
        "source": rng.choice(["web_form", "event", "white_paper", "outbound", "partner", "api"]),
        "company_name": f"Bench Co {i}",
        "company_domain": f"{company}.cn",
        "industry": rng.choice(INDUSTRIES),
        "company_size": rng.choice(SIZES),
        "region": rng.choice(REGIONS),
        "contact_name": f"Contact {i}",
        "email": f"buyer{i}@{company}.cn",
        "email_normalized": f"buyer{i}@{company}.cn",
        "phone": f"139{i:08d}",
        "phone_normalized": f"+86139{i:08d}",
        "priority": rng.randint(0, 100),
        "custom_fields": {"product": rng.choice(PRODUCTS)},
        "created_at": now - datetime.timedelta(seconds=i),
        "updated_at": now,
    }
    row.update(extra)
    return row


def _configure_routing(org) -> dict:
    from keyfit.leads.models import RoutingMember, RoutingRule, RoutingTeam
    from keyfit.users.models import User

    RoutingRule.objects.all().delete()
    RoutingMember.objects.all().delete()
    RoutingTeam.objects.all().delete()
    team_ids = org["team_ids"][:4]
    members = {
        tid: list(User.objects.filter(team_id=tid, role="ae").order_by("id").values_list("id", flat=True))
        for tid in team_ids
    }
    capacity = RoutingTeam.objects.create(team_id=team_ids[0], strategy="capacity", sla_minutes=240)
    rr = RoutingTeam.objects.create(team_id=team_ids[1], strategy="round_robin", sla_minutes=240)
    least = RoutingTeam.objects.create(team_id=team_ids[2], strategy="least_loaded", sla_minutes=480)
    catch = RoutingTeam.objects.create(team_id=team_ids[3], strategy="round_robin", sla_minutes=480)
    for rt in (capacity, rr, least, catch):
        for pos, uid in enumerate(members[rt.team_id]):
            RoutingMember.objects.create(
                routing_team=rt,
                user_id=uid,
                position=pos,
                max_per_30_days=90_000 if rt is capacity else None,  # 3,000 a day each
                paused=rt is rr and pos == 3,
                preferred_filters=[{"field": "cf.product", "operator": "eq", "value": "scrm"}]
                if rt is rr and pos < 2
                else [],
            )
    rules = [
        (
            "East China SaaS",
            capacity,
            [
                {"field": "industry", "operator": "eq", "value": "saas"},
                {"field": "region", "operator": "in", "value": ["Shanghai", "Zhejiang", "Jiangsu"]},
            ],
        ),
        (
            "Large manufacturers",
            rr,
            [
                {"field": "industry", "operator": "eq", "value": "manufacturing"},
                {"field": "company_size", "operator": "in", "value": ["250-999", "1000+"]},
            ],
        ),
        ("Hot leads", capacity, [{"field": "priority", "operator": "gte", "value": 90}]),
        ("SCRM interest", rr, [{"field": "cf.product", "operator": "eq", "value": "scrm"}]),
        ("South and West", least, [{"field": "region", "operator": "in", "value": ["Guangdong", "Sichuan", "Hubei"]}]),
        ("Everything else", catch, []),
    ]
    for pos, (name, rt, conds) in enumerate(rules):
        RoutingRule.objects.create(name=name, position=pos, routing_team=rt, conditions=conds)
    return {"members": sum(len(v) for v in members.values())}


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE leads_routingdecision, leads_memberload, leads_notification, leads_leadsignal, leads_lead CASCADE"
        )


def _vacuum(table: str = "leads_lead") -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


BARE_ROUND_ROBIN = """
WITH m AS (SELECT array_agg(user_id ORDER BY id) AS users FROM leads_routingmember),
     s AS (SELECT id, row_number() OVER (ORDER BY priority DESC, created_at, id) AS rn
             FROM leads_lead WHERE owner_id IS NULL AND merged_into_id IS NULL)
UPDATE leads_lead AS l SET owner_id = m.users[((s.rn - 1) % array_length(m.users, 1)) + 1], assigned_at = now()
  FROM s, m WHERE l.id = s.id
"""


def _producer(url: str, index: int, count: int, warmup: int, route: bool, ready, start, out) -> None:
    from bench.setup import configure

    configure(url)
    from keyfit.leads.services import lead_create
    from keyfit.users.models import User

    admin = User.objects.get(email="bench.admin@keyfit.bench")
    rng = random.Random(index)

    base = 10_000_000 if route else 50_000_000
    prefix = "Online" if route else "Intake"

    def create(i: int, name: str) -> None:
        lead_create(
            actor=admin,
            data={
                "source": "api",
                "company_name": f"{name} {i}",
                "email": f"{prefix.lower()}{i}@{prefix.lower()}{i}.cn",
                "phone": f"137{i % 100_000_000:08d}",
                "industry": rng.choice(INDUSTRIES),
                "region": rng.choice(REGIONS),
                "company_size": rng.choice(SIZES),
                "priority": rng.randint(0, 100),
                "custom_fields": {},
            },
            route=route,
        )

    # Warm-up, not timed (as the page benchmarks' first requests): the process's first leads compile its
    # statements and load the routing configuration, once per process.
    for n in range(warmup):
        create(base + index * 1_000_000 + 900_000 + n, f"{prefix} warm-up")
    ready.put(index)
    start.wait()
    began = time.perf_counter()
    done = 0
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        create(base + index * 1_000_000 + n, f"{prefix} Co")
        latencies.append((time.perf_counter() - started) * 1000)
        done += 1
    out.put((index, done, time.perf_counter() - began, latencies))


def _producers(url: str, producers: int, total: int, warmup: int, route: bool) -> tuple[float, list]:
    """Run `producers` processes creating `total` leads (routed or not); (seconds, per-producer results)."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    start = ctx.Event()
    out = ctx.Queue()
    per = total // producers
    procs = [
        ctx.Process(target=_producer, args=(url, i, per, warmup, route, ready, start, out)) for i in range(producers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    time.sleep(1)
    began = time.perf_counter()
    start.set()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    return elapsed, results


def _online(url: str, producers: int, total: int, warmup: int) -> dict:
    from django.db.models import Count

    from bench.setup import percentile
    from keyfit.leads.models import Lead, MemberLoad, RoutingDecision, RoutingMember

    # baseline: the same producers taking in the same number of leads without routing them
    intake_elapsed, intake = _producers(url, producers, total, warmup, route=False)
    elapsed, results = _producers(url, producers, total, warmup, route=True)
    intake_rate = sum(r[1] for r in intake) / intake_elapsed
    created = sum(r[1] for r in results)
    latencies = [ms for r in results for ms in r[3]]
    online = Lead.objects.filter(company_name__startswith="Online Co")
    doubles = (  # warm-up leads included
        RoutingDecision.objects.filter(kind="auto", lead__in=Lead.objects.filter(company_name__startswith="Online "))
        .values("lead_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    overrun = 0
    for m in RoutingMember.objects.exclude(max_per_30_days=None):
        quota = -(-m.max_per_30_days // 30)
        overrun += MemberLoad.objects.filter(member=m, assigned__gt=quota).count()
    return {
        "online_leads": created,
        "online_warmup_leads": warmup * producers,
        "online_seconds": round(elapsed, 2),
        "online_leads_per_s": round(created / elapsed, 1),
        "online_intake_only_leads_per_s": round(intake_rate, 1),  # baseline: lead_create(route=False)
        "online_ratio": round(intake_rate / (created / elapsed), 2),  # time per routed / per taken-in lead
        "online_p50_ms": round(percentile(latencies, 50), 1),  # one lead_create(route=True), intake to owner
        "online_p95_ms": round(percentile(latencies, 95), 1),
        "online_routed": online.filter(owner__isnull=False).count(),
        "online_double_assigned": doubles,
        "online_quota_overruns": overrun,
    }


def _dedupe(size: int, probes: int, now: datetime.datetime) -> dict:
    from bench.generate import bulk_insert
    from bench.setup import percentile
    from keyfit.leads.models import Lead
    from keyfit.leads.normalize import normalize_domain, normalize_email, normalize_phone
    from keyfit.leads.selectors import duplicate_ids

    have = Lead.objects.count()
    rng = random.Random(99)
    if have < size:
        owners = list(Lead.objects.exclude(owner=None).values_list("owner_id", "team_id").distinct()[:50]) or [
            (None, None)
        ]

        def rows():
            for i in range(have, size):
                owner, team = owners[i % len(owners)]
                yield _lead_row(
                    1_000_000 + i,
                    rng,
                    now,
                    status="converted",
                    owner_id=owner,
                    team_id=team,
                    email_normalized=f"hist{i}@h{i % 50000}.com.cn",
                    email=f"hist{i}@h{i % 50000}.com.cn",
                    company_domain=f"h{i % 50000}.com.cn",
                )

        bulk_insert(Lead, rows(), batch=50_000)
        _vacuum()
    samples = []
    existing = list(Lead.objects.order_by("?").values_list("email", "phone", "company_domain")[: probes // 2])
    keys = [(e, p, d) for e, p, d in existing] + [
        (f"new{i}@fresh{i}.cn", f"+86 136 {i:04d} {i:04d}", f"fresh{i}.cn") for i in range(probes - len(existing))
    ]
    rng.shuffle(keys)
    for email, phone, domain in keys[:20]:
        duplicate_ids(
            email_normalized=normalize_email(email),
            phone_normalized=normalize_phone(phone),
            company_domain=normalize_domain(domain),
        )
    found = 0
    for email, phone, domain in keys:
        began = time.perf_counter()
        ids = duplicate_ids(
            email_normalized=normalize_email(email),
            phone_normalized=normalize_phone(phone),
            company_domain=normalize_domain(domain),
        )
        samples.append((time.perf_counter() - began) * 1000)
        found += bool(ids)
    return {
        "dedupe_leads": Lead.objects.count(),
        "dedupe_probes": len(samples),
        "dedupe_with_match": found,
        "dedupe_p50_ms": round(percentile(samples, 50), 3),
        "dedupe_p95_ms": round(percentile(samples, 95), 3),
    }


def run(args) -> dict:
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    _ensure_database(url)
    from bench.setup import configure, migrate

    configure(url)
    migrate()
    from django.db import connection

    from bench.generate import bulk_insert, ensure_org
    from keyfit.leads.models import Lead, MemberLoad, RoutingDecision
    from keyfit.leads.routing import route_leads

    org = ensure_org(teams=4, users_per_team=10)
    _truncate()
    config = _configure_routing(org)
    now = datetime.datetime.now(datetime.UTC)
    rng = random.Random(2026)
    bulk_insert(Lead, (_lead_row(i, rng, now) for i in range(args.size)), batch=50_000)
    _vacuum()

    # baseline: the bare set-based round-robin UPDATE of the same leads
    from django.db import transaction

    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")  # the same commit mode as routing
        cursor.execute(BARE_ROUND_ROBIN)
        bare_rows = cursor.rowcount
    bare = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("UPDATE leads_lead SET owner_id = NULL, assigned_at = NULL")
    _vacuum()

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    began = time.perf_counter()
    result = route_leads(seed=1, batch_size=args.batch, keep_decisions=False)
    elapsed = time.perf_counter() - began
    if profiler:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    decisions = RoutingDecision.objects.count()
    value = args.size / elapsed
    quota_overruns = MemberLoad.objects.filter(member__max_per_30_days=90_000, assigned__gt=3000).count()
    details = {
        "routed": result.routed,
        "unrouted": result.unrouted,
        "batches": result.batches,
        "decisions_logged": decisions,
        "members": config["members"],
        "routing_seconds": round(elapsed, 3),
        "bare_update_seconds": round(bare, 3),
        "bare_update_rows": bare_rows,
        "quota_overruns": quota_overruns,
        "engine": connection.vendor,
    }
    if not args.skip_online:
        details.update(_online(url, args.producers, args.online, args.online_warmup))
        connection.close()
    if not args.skip_dedupe:
        details.update(_dedupe(args.dedupe_size, args.probes, now))
    return {
        "name": "routing",
        "size": args.size,
        "metric": "leads_routed_per_second",
        "value": round(value, 1),
        "baseline": round(args.size / bare, 1),
        "ratio": round(elapsed / bare, 2),
        "target": "value ≥ 20000 leads/s; online ≥ 500 leads/s with 0 double assignments; dedupe p95 ≤ 5 ms at 1,000,000",
        **details,
    }
