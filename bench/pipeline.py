"""pipeline: p50/p95 of the pipeline board, the opportunity list (first, filtered and deep page), the
opportunity detail page and GET /api/v1/opportunities at 10,000 and at --size opportunities (default
200,000), against the empty layout page (/blank/) with the same login measured in the same process.

ratio  = worst pipeline page p95 at the full size / empty-layout p95 at the full size   (target ≤ 2)
growth = worst pipeline page p95 at the full size / the same at 10,000                 (target ≤ 1.5)

Each size has its own database, reused between runs (loading is additive): SQLite
var/bench-pipeline[-small].sqlite3, PostgreSQL databases kf_pipeline_bench and kf_pipeline_bench_small on
the --database-url server.
"""

import datetime
import decimal
import random

DEFAULT_SIZE = 200_000
SMALL = 10_000
REPEAT = 40
# Where the generated deals are today (stage code, share).
MIX = [
    ("s3_guiding", 0.35),
    ("s4_value", 0.25),
    ("lost", 0.20),
    ("s5_onboarding", 0.06),
    ("s5_adoption", 0.06),
    ("s5_value_realised", 0.04),
    ("s5_renewal", 0.04),
]


def add_arguments(parser):
    parser.add_argument("--single", action="store_true", help="measure one size in this process (internal)")
    parser.add_argument("--repeat", type=int, default=REPEAT)


def _database(base_url: str | None, suffix: str = "") -> str:
    import os
    from urllib.parse import urlsplit, urlunsplit

    from bench.setup import ROOT

    base_url = base_url or os.environ.get("BENCH_DATABASE_URL") or "sqlite://"
    if base_url.startswith("sqlite"):
        return f"sqlite:///{ROOT / 'var' / f'bench-pipeline{suffix}.sqlite3'}"
    import psycopg

    prefix = os.environ.get("BENCH_PIPELINE_DATABASE", "kf_pipeline_bench")  # another name keeps runs apart
    name = f"{prefix}{suffix.replace('-', '_')}"
    parts = urlsplit(base_url)
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    with psycopg.connect(urlunsplit((scheme, parts.netloc, "/postgres", "", "")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def generate_opportunities(total: int, *, org, seed: int = 23) -> int:
    """Make the number of opportunities `total` (with their stage history and one activity per two deals)."""
    from django.db.models import Max
    from django.utils import timezone

    from bench.generate import bulk_insert, generate_accounts
    from keyfit.pipeline.models import Activity, Opportunity, Stage, StageChange

    have = Opportunity.objects.count()
    if have >= total:
        return 0
    generate_accounts(max(2_000, total // 10), org=org)
    from keyfit.accounts.models import Account

    accounts = list(Account.objects.values_list("id", "owner_id", "team_id").order_by("id"))
    stages = {s.code: s for s in Stage.objects.all()}
    s3 = stages["s3_guiding"]
    rng = random.Random(seed + have)
    now = timezone.now()
    codes = [c for c, _ in MIX]
    weights = [w for _, w in MIX]
    last_id = Opportunity.objects.aggregate(m=Max("id"))["m"] or 0
    plan = []
    for i in range(have, total):
        account_id, owner_id, team_id = accounts[i % len(accounts)]
        stage = stages[rng.choices(codes, weights)[0]]
        created = now - datetime.timedelta(days=rng.randint(1, 700), seconds=rng.randint(0, 86400))
        entered = created + (now - created) * rng.random() if stage != s3 else created
        plan.append((i, account_id, owner_id, team_id, stage, created, entered))

    def opportunity_rows():
        for i, account_id, owner_id, team_id, stage, created, entered in plan:
            yield {
                "name": f"商机 Deal {i:07d}",
                "account_id": account_id,
                "owner_id": owner_id,
                "team_id": team_id,
                "stage_id": stage.id,
                "stage_entered_at": entered,
                "amount": decimal.Decimal(rng.randint(10, 5000) * 1000),
                "currency": "CNY" if rng.random() < 0.9 else "USD",
                "expected_close_date": (created + datetime.timedelta(days=rng.randint(30, 240))).date(),
                "computed_probability": stage.default_probability,
                "forecast_category": stage.forecast_category,
                "created_at": created,
                "updated_at": entered,
                "custom_fields": {},
            }

    added = bulk_insert(Opportunity, opportunity_rows())
    ids = list(Opportunity.objects.filter(pk__gt=last_id).order_by("id").values_list("id", flat=True))
    assert len(ids) == len(plan)

    def change_rows():
        for offset, (_, _, owner_id, _, stage, created, entered) in enumerate(plan):
            opp_id = ids[offset]
            yield {
                "opportunity_id": opp_id,
                "from_stage_id": None,
                "to_stage_id": s3.id,
                "actor_id": owner_id,
                "at": created,
                "seconds_in_previous": None,
                "reason": "",
                "override": False,
                "overridden": [],
            }
            if stage != s3:
                yield {
                    "opportunity_id": opp_id,
                    "from_stage_id": s3.id,
                    "to_stage_id": stage.id,
                    "actor_id": owner_id,
                    "at": entered,
                    "seconds_in_previous": int((entered - created).total_seconds()),
                    "reason": "",
                    "override": False,
                    "overridden": [],
                }

    bulk_insert(StageChange, change_rows())

    def activity_rows():
        for offset, (_, account_id, owner_id, team_id, _, created, _) in enumerate(plan):
            if offset % 2:
                continue
            when = created + datetime.timedelta(days=rng.randint(0, 30))
            yield {
                "kind": "visit",
                "subject": "拜访 Visit",
                "account_id": account_id,
                "opportunity_id": ids[offset],
                "owner_id": owner_id,
                "team_id": team_id,
                "occurred_at": when,
                "duration_minutes": 60,
                "channel": "field",
                "outcome": "",
                "next_step": "Send proposal",
                "next_step_date": (when + datetime.timedelta(days=7)).date(),
                "done": rng.random() < 0.7,
                "created_at": when,
                "updated_at": when,
                "version": 1,
            }

    bulk_insert(Activity, activity_rows())
    return added


def _detail_target(org):
    """A busy S4 deal for the detail page: ten activities with questions asked."""
    from keyfit.pipeline.models import Activity, Opportunity, Question
    from keyfit.pipeline.services import activity_create

    opp = Opportunity.objects.filter(stage__code="s4_value").order_by("id").first()
    if opp.activities.count() < 10:
        questions = list(Question.objects.all()[:3])
        for k in range(10):
            activity_create(
                actor=org["admin"],
                kind="meeting",
                subject=f"Workshop {k}",
                opportunity=opp,
                questions=[{"question": q, "answer": "answer heard"} for q in questions],
            )
    assert Activity.objects.filter(opportunity=opp).count() >= 10
    return opp


def _deep_cursor(queryset, fraction: float) -> str:
    from keyfit.core.pagination import encode_cursor

    total = queryset.count()
    row = queryset.order_by("-updated_at", "-id").values_list("updated_at", "id")[int(total * fraction)]
    return encode_cursor(list(row))


def measure_one(args) -> dict:
    from bench.generate import analyze, ensure_org
    from bench.pages import client_for, measure_pages
    from bench.setup import configure, migrate

    configure(args.database_url)
    migrate()
    org = ensure_org()
    if generate_opportunities(args.size, org=org):
        from keyfit.pipeline.summary import rebuild_board_summary

        rebuild_board_summary()  # the rows were bulk-loaded past the model's signals
        analyze()
    from keyfit.pipeline.models import Opportunity

    opp = _detail_target(org)
    deep = _deep_cursor(Opportunity.objects.all(), 0.9)
    admin = client_for(org["admin"])
    manager = client_for(org["managers"][0])
    pages = {
        "blank": (admin, "/blank/"),
        "board": (admin, "/pipeline/"),
        "board_manager": (manager, "/pipeline/"),
        "board_filtered": (admin, "/pipeline/?forecast=best_case"),
        "list": (admin, "/pipeline/opportunities/"),
        "list_filtered": (admin, "/pipeline/opportunities/?stage=s4_value"),
        "list_deep": (admin, f"/pipeline/opportunities/?cursor={deep}"),
        "list_manager": (manager, "/pipeline/opportunities/"),
        "detail": (admin, f"/pipeline/opportunities/{opp.pk}/"),
        "api": (admin, "/api/v1/opportunities?limit=50"),
        "api_filtered": (admin, "/api/v1/opportunities?limit=50&stage=s4_value"),
    }
    return measure_pages(pages, size=args.size, repeat=args.repeat)


def run(args) -> dict:
    if args.single:
        return measure_one(args)
    from bench.pages import run_child

    small = run_child("pipeline", SMALL, _database(args.database_url, "-small"), ["--repeat", str(args.repeat)])
    full = run_child("pipeline", args.size, _database(args.database_url), ["--repeat", str(args.repeat)])
    table = {
        key: {
            "p50_small": small["pages"][key]["p50_ms"],
            "p95_small": small["pages"][key]["p95_ms"],
            "p50_full": full["pages"][key]["p50_ms"],
            "p95_full": full["pages"][key]["p95_ms"],
            "queries": full["pages"][key]["queries"],
        }
        for key in full["pages"]
    }
    return {
        "name": "pipeline",
        "size": args.size,
        "engine": full["engine"],
        "metric": "p95_ms",
        "value": full["value"],
        "baseline": full["baseline"],
        "ratio": round(full["value"] / full["baseline"], 2),
        "growth": round(full["value"] / small["value"], 2),
        "target": {"ratio": 2.0, "growth": 1.5},
        "pages": table,
    }
