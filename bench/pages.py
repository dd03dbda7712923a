"""Measuring pages in-process: the full Django stack (middleware, sessions, templates, ORM) without a socket.

Each benchmark that compares pages runs its sizes in separate processes on separate databases (one per
size, reused between runs: loading is additive), so that one process never sees another size's data.
"""

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from bench.setup import ROOT


def database_for(base_url: str | None, label: str, prefix: str = "kf_bench") -> str:
    """A database URL of its own for `label`: a SQLite file in var/, or a PostgreSQL database on the server
    named `<prefix>_<label>` (a benchmark lets an environment variable choose another prefix, so that runs
    of different checkouts on one server do not share a database)."""
    base_url = base_url or os.environ.get("BENCH_DATABASE_URL") or "sqlite://"
    if base_url.startswith("sqlite"):
        return f"sqlite:///{ROOT / 'var' / f'bench-{label}.sqlite3'}"
    parts = urlsplit(base_url)
    name = f"{prefix}_{label}".replace("-", "_")
    import psycopg

    admin_url = urlunsplit(
        (
            parts.scheme.replace("postgres", "postgresql", 1) if parts.scheme == "postgres" else parts.scheme,
            parts.netloc,
            "/postgres",
            "",
            "",
        )
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def run_child(module: str, size: int, database_url: str, extra: list[str] | None = None) -> dict:
    """Run `python -m bench <module> --single --size N` in a fresh process; return its JSON line."""
    cmd = [
        sys.executable,
        "-m",
        "bench",
        module,
        "--single",
        "--json",
        "--size",
        str(size),
        "--database-url",
        database_url,
        *(extra or []),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def fetch(client, path: str, expect: int = 200):
    def go():
        response = client.get(path)
        if response.status_code != expect:
            raise SystemExit(f"GET {path} answered {response.status_code}, expected {expect}")
        return response

    return go


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def measure_pages(pages: dict, *, size: int, repeat: int, warmup: int = 3) -> dict:
    """Time every (client, path) of `pages` (one of them keyed "blank") and count its queries; the result
    of one size: worst non-blank p95 as `value`, the blank page's p95 as `baseline`, and their `ratio`.

    The pages are requested in turns, one request of each page per round, `repeat` rounds: the empty
    page is measured between the pages it is compared with, so that a busy moment of the machine falls
    on the baseline as much as on the pages (timing each page's requests in one block let the baseline be
    measured in a quiet minute and a page in a busy one)."""
    import time

    from bench.setup import engine, summarize

    fetchers = {key: fetch(client, path) for key, (client, path) in pages.items()}
    for _ in range(warmup):
        for go in fetchers.values():
            go()
    samples: dict[str, list[float]] = {key: [] for key in fetchers}
    for _ in range(repeat):
        for key, go in fetchers.items():
            started = time.perf_counter()
            go()
            samples[key].append((time.perf_counter() - started) * 1000)
    results = {key: {**summarize(samples[key]), "queries": count_queries(go)} for key, go in fetchers.items()}
    value = max(v["p95_ms"] for k, v in results.items() if k != "blank")
    baseline = results["blank"]["p95_ms"]
    return {
        "metric": "p95_ms",
        "engine": engine(),
        "size": size,
        "measured": "interleaved",
        "pages": results,
        "value": value,
        "baseline": baseline,
        "ratio": round(value / baseline, 2),
        "target": 2.0,
    }
