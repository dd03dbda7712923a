"""accounts-list: p50/p95 of the account list page and of GET /api/v1/accounts at 10,000 and at --size
accounts (default 1,000,000), filtered and unfiltered, first and a deep page, against the empty layout
page (/blank/) with the same login measured in the same process.

On PostgreSQL the two sizes live in databases `<prefix>_accounts_10000` and `<prefix>_accounts_<size>`;
the prefix is $BENCH_ACCOUNTS_DATABASE (default `kf_bench`), so that runs of different checkouts on one
server do not share (and grow) one database.

ratio  = worst list p95 at the full size / empty-layout p95 at the full size   (target ≤ 2)
growth = worst list p95 at the full size / the same at 10,000                 (target ≤ 1.5)
"""

import os

DEFAULT_SIZE = 1_000_000
SMALL = 10_000
REPEAT = 100


def add_arguments(parser):
    parser.add_argument("--single", action="store_true", help="measure one size in this process (internal)")
    parser.add_argument("--repeat", type=int, default=REPEAT)


def _deep_cursor(queryset, fraction: float) -> str:
    """The cursor a reader holds after paging to `fraction` of the ordered list (found once, by OFFSET)."""
    from keyfit.core.pagination import encode_cursor

    total = queryset.count()
    row = queryset.order_by("name", "id").values_list("name", "id")[int(total * fraction)]
    return encode_cursor(list(row))


def measure_one(args) -> dict:
    from bench.generate import analyze, ensure_org, generate_accounts
    from bench.pages import client_for, measure_pages
    from bench.setup import configure, migrate

    configure(args.database_url)
    migrate()
    org = ensure_org()
    added = generate_accounts(args.size, org=org)
    if added:
        analyze()
    from keyfit.accounts.models import Account

    bench_accounts = Account.objects.filter(external_id__startswith="BENCH-A")
    deep = _deep_cursor(bench_accounts, 0.9)
    deep_key = _deep_cursor(bench_accounts.filter(tier="key"), 0.9)
    admin = client_for(org["admin"])
    manager = client_for(org["managers"][0])
    pages = {
        "blank": (admin, "/blank/"),
        "list": (admin, "/accounts/"),
        "list_filtered": (admin, "/accounts/?tier=key"),
        "list_deep": (admin, f"/accounts/?cursor={deep}"),
        "list_filtered_deep": (admin, f"/accounts/?tier=key&cursor={deep_key}"),
        "list_manager": (manager, "/accounts/"),
        "api": (admin, "/api/v1/accounts?limit=50"),
        "api_filtered": (admin, "/api/v1/accounts?limit=50&tier=key"),
        "api_deep": (admin, f"/api/v1/accounts?limit=50&cursor={deep}"),
    }
    return measure_pages(pages, size=args.size, repeat=args.repeat)


def run(args) -> dict:
    if args.single:
        return measure_one(args)
    from bench.pages import database_for, run_child

    prefix = os.environ.get("BENCH_ACCOUNTS_DATABASE", "kf_bench")  # another prefix keeps runs apart
    small = run_child(
        "accounts-list",
        SMALL,
        database_for(args.database_url, f"accounts-{SMALL}", prefix),
        ["--repeat", str(args.repeat)],
    )
    full = run_child(
        "accounts-list",
        args.size,
        database_for(args.database_url, f"accounts-{args.size}", prefix),
        ["--repeat", str(args.repeat)],
    )
    worst_full = full["value"]
    worst_small = small["value"]
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
        "name": "accounts-list",
        "size": args.size,
        "engine": full["engine"],
        "metric": "p95_ms",
        "value": worst_full,
        "baseline": full["baseline"],
        "ratio": round(worst_full / full["baseline"], 2),
        "growth": round(worst_full / worst_small, 2),
        "target": {"ratio": 2.0, "growth": 1.5},
        "pages": table,
    }
