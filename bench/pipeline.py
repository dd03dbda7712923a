"""pipeline: p50/p95 of the pipeline board, the opportunity list (first, filtered and deep page), the
opportunity detail page and GET /api/v1/opportunities at 10,000 and at --size opportunities (default
300,000, with 10 activities per deal on average: 3,000,000 activities), against the empty layout page (/blank/) with the same login measured in the same process.

ratio  = worst pipeline page p95 at the full size / empty-layout p95 at the full size   (target ≤ 2)
growth = worst pipeline page p95 at the full size / the same at 10,000                 (target ≤ 1.5)

Each size has its own database, reused between runs (loading is additive): SQLite
var/bench-pipeline[-small].sqlite3, PostgreSQL databases kf_pipeline_bench and kf_pipeline_bench_small on
the --database-url server.
"""

import datetime
import decimal
import random
import sys
import time

DEFAULT_SIZE = 300_000
SMALL = 10_000
REPEAT = 100
ACTIVITIES_PER_DEAL = 10
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
# The stages a deal passed through to reach its current one (a lost deal left from S3 or S4).
PATHS = {
    "s3_guiding": ["s3_guiding"],
    "s4_value": ["s3_guiding", "s4_value"],
    "lost": ["s3_guiding", "lost"],
    "s5_onboarding": ["s3_guiding", "s4_value", "won", "s5_onboarding"],
    "s5_adoption": ["s3_guiding", "s4_value", "won", "s5_onboarding", "s5_adoption"],
    "s5_value_realised": ["s3_guiding", "s4_value", "won", "s5_onboarding", "s5_adoption", "s5_value_realised"],
    "s5_renewal": [
        "s3_guiding",
        "s4_value",
        "won",
        "s5_onboarding",
        "s5_adoption",
        "s5_value_realised",
        "s5_renewal",
    ],
}
# What a sales team logs (kind, share, channel, subject, minutes): calls and e-mails most, visits and
# meetings where the questions get asked, a few demos, proposals and notes.
ACTIVITY_MIX = [
    ("call", 0.26, "online", "电话沟通 Call", (15, 45)),
    ("email", 0.20, "online", "邮件跟进 Follow-up e-mail", (0, 0)),
    ("visit", 0.18, "field", "现场拜访 Site visit", (60, 180)),
    ("meeting", 0.16, "online", "需求研讨会 Workshop", (45, 120)),
    ("demo", 0.08, "online", "产品演示 Demo", (60, 90)),
    ("note", 0.08, "online", "内部备注 Note", (0, 0)),
    ("proposal", 0.04, "online", "方案提交 Proposal sent", (30, 60)),
]
ASKING = {"visit": 0.7, "meeting": 0.6, "call": 0.3, "demo": 0.2}  # share of activities that asked questions
OUTCOMES = [
    "",
    "",
    "客户确认了预算范围 Budget range confirmed",
    "需要与生产总监再沟通 Follow up with the plant director",
    "对交付周期有顾虑 Concerned about lead time",
    "同意下周安排演示 Agreed to a demo next week",
    "提出了三个竞争对手 Named three competitors",
]
NEXT_STEPS = ["", "发送方案 Send proposal", "安排现场演示 Book a site demo", "确认决策流程 Confirm decision process"]
ANSWERS = [
    "去年审计发现返工成本过高 Rework costs flagged by last year's audit",
    "产线停机每周两次 Line stops twice a week",
    "希望三个月内上线一个工厂 One plant live in three months",
    "采购由集团统一决策 Group procurement decides",
    "总经理亲自推动 The general manager drives it",
    "",
]
CHUNK = 20_000  # opportunities generated (and committed) at a time


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


def _activity_count(rng: random.Random, mean: int) -> int:
    """How many activities a deal has: most have a few, busy ones dozens (1 + an exponential draw,
    `mean` on average, at most 8 × `mean`)."""
    return min(1 + int(rng.expovariate(1 / (mean - 0.5))), 8 * mean)


def _skip_foreign_key_checks() -> None:
    """On PostgreSQL as a superuser, skip the foreign-key triggers for the rest of this transaction, as
    pg_restore --disable-triggers does: Django's deferred checks would otherwise re-read every referenced
    row at COMMIT (about a third of the load time). The generator only writes ids it has just read."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _new_ids(model, after: int) -> list[int]:
    """The ids a bulk load just gave `model`'s rows (inserted in order, in this transaction)."""
    return list(model.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True))


def _max_id(model) -> int:
    from django.db.models import Max

    return model.objects.aggregate(m=Max("pk"))["m"] or 0


def generate_opportunities(
    total: int, *, org, seed: int = 23, activities_per_deal: int = ACTIVITIES_PER_DEAL, log=None
) -> int:
    """Make the number of opportunities `total`, each with its stage history (every stage it passed
    through) and on average `activities_per_deal` activities (a mix of calls, e-mails, visits, meetings,
    demos, notes and proposals with their contact and colleague participants and the discovery questions
    asked). Loaded with COPY on PostgreSQL, batched INSERTs on SQLite, CHUNK deals per transaction, so an
    interrupted load resumes where it stopped. Returns the number of opportunities added."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone

    from bench.generate import bulk_insert, generate_accounts, generate_contacts
    from keyfit.accounts.models import Account, Contact
    from keyfit.core.models import AuditEvent
    from keyfit.pipeline.models import Activity, ActivityQuestion, LostReason, Opportunity, Question, Stage, StageChange
    from keyfit.users.models import User

    have = Opportunity.objects.count()
    if have >= total:
        return 0
    generate_accounts(max(2_000, total // 10), org=org)
    generate_contacts(2)
    accounts = list(Account.objects.values_list("id", "owner_id", "team_id").order_by("id"))
    contacts: dict[int, list[int]] = {}
    for contact_id, account_id in Contact.objects.values_list("id", "account_id").order_by("id").iterator(10_000):
        contacts.setdefault(account_id, []).append(contact_id)
    colleagues: dict[int, list[int]] = {}
    for user_id, team_id in org["owners"]:
        colleagues.setdefault(team_id, []).append(user_id)
    stages = {s.code: s for s in Stage.objects.all()}
    opportunity_type = ContentType.objects.get_for_model(Opportunity)
    labels = {user.pk: str(user)[:200] for user in User.objects.all()}
    lost_reasons = list(LostReason.objects.values_list("id", flat=True).order_by("id"))
    questions = list(Question.objects.filter(active=True).values_list("id", "category").order_by("id"))
    now = timezone.now()
    codes = [c for c, _ in MIX]
    weights = [w for _, w in MIX]
    kinds = [k for k, *_ in ACTIVITY_MIX]
    kind_weights = [w for _, w, *_ in ACTIVITY_MIX]
    kind_info = {k: (channel, subject, minutes) for k, _, channel, subject, minutes in ACTIVITY_MIX}
    ContactLink = Activity.contacts.through
    UserLink = Activity.users.through

    def load_chunk(start: int, end: int) -> tuple[int, int]:
        """Deals start…end-1 and everything that hangs off them, in one transaction."""
        rng = random.Random(seed * 1_000_003 + start)
        plan = []
        for i in range(start, end):
            account_id, owner_id, team_id = accounts[i % len(accounts)]
            stage = stages[rng.choices(codes, weights)[0]]
            path = list(PATHS[stage.code])
            if stage.code == "lost" and rng.random() < 0.5:
                path.insert(1, "s4_value")
            created = now - datetime.timedelta(days=rng.randint(1, 700), seconds=rng.randint(0, 86400))
            span = now - created
            # Move times: spread over the deal's life, the current stage entered at `entered`.
            fractions = sorted(rng.random() for _ in range(len(path) - 1))
            moves = [created] + [created + span * f for f in fractions]
            if "won" in path:  # winning enters onboarding at the same moment
                w = path.index("won")
                moves[w + 1] = moves[w]
            plan.append((i, account_id, owner_id, team_id, stage, path, moves))
        with transaction.atomic():
            _skip_foreign_key_checks()
            last_opp = _max_id(Opportunity)

            def opportunity_rows():
                for i, account_id, owner_id, team_id, stage, path, moves in plan:
                    created, entered = moves[0], moves[-1]
                    lost = stage.code == "lost"
                    won_at = moves[path.index("won")] if "won" in path else None
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
                        "lost_reason_id": rng.choice(lost_reasons) if lost else None,
                        "lost_on": entered.date() if lost else None,
                        "won_on": won_at.date() if won_at else None,
                        "created_at": created,
                        "updated_at": entered,
                        "custom_fields": {},
                    }

            added = bulk_insert(Opportunity, opportunity_rows())
            ids = _new_ids(Opportunity, last_opp)
            assert len(ids) == len(plan)

            def change_rows():
                for opp_id, (_, _, owner_id, _, _, path, moves) in zip(ids, plan, strict=True):
                    for k, code in enumerate(path):
                        yield {
                            "opportunity_id": opp_id,
                            "from_stage_id": stages[path[k - 1]].id if k else None,
                            "to_stage_id": stages[code].id,
                            "actor_id": owner_id,
                            "at": moves[k],
                            "seconds_in_previous": int((moves[k] - moves[k - 1]).total_seconds()) if k else None,
                            "reason": "",
                            "override": False,
                            "overridden": [],
                        }

            bulk_insert(StageChange, change_rows())

            def audit_rows():  # what the services log: the creation, then each stage move
                for opp_id, (i, _, owner_id, _, _, path, moves) in zip(ids, plan, strict=True):
                    common = {
                        "actor_id": owner_id,
                        "actor_label": labels[owner_id],
                        "content_type_id": opportunity_type.id,
                        "object_id": str(opp_id),
                        "object_repr": f"商机 Deal {i:07d}",
                    }
                    yield {**common, "at": moves[0], "action": "create", "verb": "", "changes": {}}
                    for k in range(1, len(path)):
                        if path[k - 1] == "won":
                            continue  # entering onboarding is part of the won move
                        yield {
                            **common,
                            "at": moves[k],
                            "action": "update",
                            "verb": "stage_move",
                            "changes": {"stage_id": [stages[path[k - 1]].id, stages[path[k]].id]},
                        }

            bulk_insert(AuditEvent, audit_rows())

            # Activities: `activities_per_deal` per deal on average, spread over the deal's life so far.
            acts = []  # (kind, account_id, team_id, owner_id) per activity, in insertion order

            def activity_rows():
                for opp_id, (_, account_id, owner_id, team_id, stage, _, moves) in zip(ids, plan, strict=True):
                    created = moves[0]
                    until = moves[-1] if stage.code == "lost" else now
                    for _ in range(_activity_count(rng, activities_per_deal)):
                        kind = rng.choices(kinds, kind_weights)[0]
                        channel, subject, (lo, hi) = kind_info[kind]
                        when = created + (until - created) * rng.random()
                        next_step = rng.choice(NEXT_STEPS) if kind not in ("note", "email") else ""
                        acts.append((kind, account_id, team_id, owner_id))
                        yield {
                            "kind": kind,
                            "subject": subject,
                            "account_id": account_id,
                            "opportunity_id": opp_id,
                            "owner_id": owner_id,
                            "team_id": team_id,
                            "occurred_at": when,
                            "duration_minutes": rng.randint(lo, hi) if hi else None,
                            "channel": channel,
                            "outcome": rng.choice(OUTCOMES),
                            "next_step": next_step,
                            "next_step_date": (when + datetime.timedelta(days=rng.randint(2, 14))).date()
                            if next_step
                            else None,
                            "done": when < now - datetime.timedelta(days=14) or rng.random() < 0.5,
                            "created_at": when,
                            "updated_at": when,
                            "version": 1,
                        }

            last_activity = _max_id(Activity)
            bulk_insert(Activity, activity_rows())
            activity_ids = _new_ids(Activity, last_activity)
            assert len(activity_ids) == len(acts)

            def contact_rows():
                for activity_id, (kind, account_id, _, _) in zip(activity_ids, acts, strict=True):
                    people = contacts.get(account_id, [])
                    if kind == "note" or not people:
                        continue
                    for contact_id in rng.sample(people, rng.randint(1, len(people))):
                        yield {"activity_id": activity_id, "contact_id": contact_id}

            def user_rows():
                for activity_id, (kind, _, team_id, owner_id) in zip(activity_ids, acts, strict=True):
                    if kind in ("visit", "meeting", "demo") and rng.random() < 0.3:
                        colleague = rng.choice(colleagues.get(team_id, [owner_id]))
                        if colleague != owner_id:
                            yield {"activity_id": activity_id, "user_id": colleague}

            def question_rows():
                for activity_id, (kind, *_) in zip(activity_ids, acts, strict=True):
                    if rng.random() >= ASKING.get(kind, 0):
                        continue
                    for question_id, category in rng.sample(questions, rng.randint(1, 3)):
                        answer = rng.choice(ANSWERS)
                        yield {
                            "activity_id": activity_id,
                            "question_id": question_id,
                            "answer": answer,
                            "used_as": category if answer and rng.random() < 0.2 else "",
                        }

            bulk_insert(ContactLink, contact_rows())
            bulk_insert(UserLink, user_rows())
            bulk_insert(ActivityQuestion, question_rows())
        return added, len(acts)

    added = 0
    for start in range(have, total, CHUNK):
        end = min(total, start + CHUNK)
        deals, activities = load_chunk(start, end)
        added += deals
        if log:
            log(f"opportunities {end:,} / {total:,}, activities +{activities:,}")
    return added


def _detail_target():
    """The deal whose page is measured, chosen the same way on every database: the first S4 deal (by id)
    with 20–30 activities, at least one with questions asked, and its stage history — a busy deal whose
    timeline fills more than its first page."""
    from django.db.models import Count

    from keyfit.pipeline.models import Activity, ActivityQuestion, Opportunity

    candidates = list(
        Opportunity.objects.filter(stage__code="s4_value").order_by("id").values_list("id", flat=True)[:2000]
    )
    counts = dict(
        Activity.objects.filter(opportunity_id__in=candidates)
        .values("opportunity_id")
        .annotate(n=Count("id"))
        .values_list("opportunity_id", "n")
    )
    asked = set(
        ActivityQuestion.objects.filter(activity__opportunity_id__in=candidates).values_list(
            "activity__opportunity_id", flat=True
        )
    )
    for pk in candidates:
        if 20 <= counts.get(pk, 0) <= 30 and pk in asked:
            return Opportunity.objects.get(pk=pk)
    raise SystemExit("no S4 deal with 20–30 activities: generate more data")


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
    started = time.perf_counter()
    if generate_opportunities(args.size, org=org, log=lambda line: print(line, file=sys.stderr, flush=True)):
        from keyfit.pipeline.summary import rebuild_board_summary

        rebuild_board_summary()  # the rows were bulk-loaded past the model's signals
        analyze()
        print(f"generated in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    generated_seconds = round(time.perf_counter() - started, 1)
    from keyfit.pipeline.models import Activity, Opportunity

    opp = _detail_target()
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
    result = measure_pages(pages, size=args.size, repeat=args.repeat)
    result["data"] = {
        "opportunities": Opportunity.objects.count(),
        "activities": Activity.objects.count(),
        "generated_seconds": generated_seconds,
        "detail_opportunity": opp.pk,
        "detail_activities": opp.activities.count(),
    }
    return result


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
        "data": {"small": small["data"], "full": full["data"]},
    }
