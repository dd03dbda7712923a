"""import: N leads from a CSV file through the import engine (validated with the leads app's rules,
deduplicated by external id, one audit event) against a bare load of the same rows into the same leads
table with its indexes, measured in the same run.

    python -m bench import --size 1000000 [--database-url postgres://…/kf_imports_bench]

PostgreSQL: baseline = `COPY leads_lead (…) FROM STDIN (FORMAT csv)` of the same file; ratio = import
rows/s ÷ COPY rows/s (target ≥ 0.5). SQLite: value = import rows/s (target ≥ 20,000); the baseline is
batched executemany of the same rows. Peak RSS is reported to show that memory stays flat.
"""

import csv
import os
import resource
import time
from pathlib import Path

DEFAULT_SIZE = 1_000_000
COLUMNS = ["Lead ID", "Name", "Company", "E-mail", "Phone", "Source", "Value", "Converted"]
SOURCES = ["Web form", "event", "Partner", "outbound", "white_paper", "Select"]
MAPPING = {
    "kind": "lead",
    "key": "external_id",
    "empty_values": ["Select"],
    "columns": {
        "Lead ID": "external_id",
        "Name": "contact_name",
        "Company": "company_name",
        "E-mail": "email",
        "Phone": "phone",
        "Source": "source",
        "Value": "estimated_value",
        "Converted": "known_converted",
    },
}


def add_arguments(parser):
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV file")


def _write_csv(path: Path, size: int) -> None:
    surnames = "王李张刘陈杨黄赵吴周"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(size):
            writer.writerow(
                [
                    f"BENCH-L{i:08d}",
                    f"{surnames[i % 10]}{i % 997}",
                    f"公司{i % 50_000}",
                    f"user{i}@company{i % 50_000}.cn",
                    f"138{i % 100_000_000:08d}",
                    SOURCES[i % len(SOURCES)],
                    str((i % 500) * 1000),
                    "1" if i % 3 == 0 else "0",
                ]
            )


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _clear(model) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(model._meta.db_table)} CASCADE")
        else:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


def _baseline(path: Path, model) -> float:
    """A bare load of the same rows (no validation, no dedupe) into the same table; seconds."""
    from django.db import connection, transaction
    from django.utils import timezone

    names = ["external_id", "contact_name", "company_name", "email", "phone", "source", "estimated_value"]
    names += ["known_converted"]
    fields = {f.name: f for f in model._meta.concrete_fields}
    rest = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in names]
    qn = connection.ops.quote_name
    now = timezone.now()
    fixed = []
    for f in rest:
        value = f.get_default() if f.has_default() else (None if f.null else "")
        if f.name in ("created_at", "updated_at"):
            value = now
        if f.get_internal_type() == "JSONField":
            import json

            value = json.dumps(value)
        fixed.append(value)
    columns = [fields[n].column for n in names] + [f.column for f in rest]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor, open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        if connection.vendor == "postgresql":
            sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in reader:
                    row[5] = "import" if row[5] == "Select" else row[5].lower().replace(" ", "_")
                    copy.write_row([*row[:7], row[7] == "1", *fixed])
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = (
                f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) VALUES ({placeholders})"
            )
            batch = []
            fixed_sql = [v.isoformat(" ") if hasattr(v, "isoformat") else v for v in fixed]
            for row in reader:
                row[5] = "import" if row[5] == "Select" else row[5].lower().replace(" ", "_")
                batch.append((*row[:7], row[7] == "1", *fixed_sql))
                if len(batch) >= 5000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
    return time.perf_counter() - started


def run(args) -> dict:
    from bench.generate import ensure_org
    from bench.setup import ROOT, configure, engine, migrate

    configure(args.database_url)
    migrate()
    org = ensure_org(teams=2, users_per_team=2)
    from django.apps import apps

    from keyfit.imports import services

    Lead = apps.get_model("leads", "Lead")

    path = ROOT / "var" / f"bench-import-{args.size}.csv"
    if not path.exists():
        _write_csv(path, args.size)
    rss_before = _rss_mb()
    _clear(Lead)
    baseline_s = _baseline(path, Lead)
    _clear(Lead)
    started = time.perf_counter()
    job = services.import_job_create(actor=org["admin"], kind="lead", source_path=path, mapping=MAPPING, copy=False)
    job = services.import_job_start(actor=org["admin"], job=job, inline=True)
    import_s = time.perf_counter() - started
    reimport_started = time.perf_counter()
    again = services.import_job_create(actor=org["admin"], kind="lead", source_path=path, mapping=MAPPING, copy=False)
    again = services.import_job_start(actor=org["admin"], job=again, inline=True)
    reimport_s = time.perf_counter() - reimport_started
    if not args.keep:
        os.unlink(path)
    vendor = engine()
    rate = args.size / import_s
    base_rate = args.size / baseline_s
    return {
        "metric": "rows_per_s",
        "engine": vendor,
        "value": round(rate),
        "baseline": round(base_rate),
        "ratio": round(rate / base_rate, 3),
        "target": 0.5 if vendor == "postgresql" else 20000,
        "counts": job.counts,
        "reimport_counts": again.counts,
        "import_s": round(import_s, 1),
        "baseline_s": round(baseline_s, 1),
        "reimport_s": round(reimport_s, 1),
        "peak_rss_mb": _rss_mb(),
        "rss_before_import_mb": rss_before,
    }
