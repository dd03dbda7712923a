"""Point Django at the benchmark database before it starts, and shared measuring helpers."""

import os
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(database_url: str | None) -> str:
    """Use `database_url` (or $BENCH_DATABASE_URL, else var/bench.sqlite3) and set Django up."""
    url = database_url or os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("KEYFIT_DEMO", "1")
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    # In-memory cache: the benchmark measures pages, not the cache table.
    from django.core.cache import caches

    settings.CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    caches._settings = None  # re-read
    return url


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Pages are measured with the production static storage (hashed names from the manifest).
    call_command("collectstatic", verbosity=0, interactive=False)


def engine() -> str:
    from django.db import connection

    return connection.vendor


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds of measured samples, and their number."""
    return {
        "p50_ms": round(percentile(samples_ms, 50), 2),
        "p95_ms": round(percentile(samples_ms, 95), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
        "n": len(samples_ms),
    }
