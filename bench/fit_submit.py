"""fit-submit: 200 customer respondents answer and submit a fit questionnaire concurrently.

`python -m bench fit-submit [--size 200] [--database-url postgres://…/kf_fitcanvas_bench]`

The benchmark prepares an open wave with `size` customer raters on PostgreSQL (database
kf_fitcanvas_bench by default), starts the application with gunicorn on 127.0.0.1:8150, and lets every
respondent, each in its own thread with its own keep-alive connection, do what the phone page does through
`/api/v1/fit/respond/{token}`: open the questionnaire, save the nine areas one by one, change one area
again, and submit. All loops are bounded; only 127.0.0.1 is contacted. Afterwards the answers are counted
in the database: every (rater, statement) must hold exactly the last value sent (0 lost, 0 duplicated).

value    = p95 of one save (PUT of one area), milliseconds, under `size` concurrent respondents
baseline = p95 of GET /healthz (one SELECT 1) under the same concurrency, in the same run
ratio    = value / baseline
It also times the results of a 50-rater wave (25 supplier + 25 customer raters, 27 answers each) computed
from the database: target ≤ 50 ms (p95 over 30 runs).
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

from bench.setup import ROOT, configure, migrate, percentile

DEFAULT_SIZE = 200
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/kf_fitcanvas_bench"
HOST = "127.0.0.1"
PORT = 8150
RESULT_RATERS = 50
RESULT_TARGET_MS = 50.0


def add_arguments(parser):
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")


def _ensure_database(url: str) -> None:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg

    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _score(rater_index: int, position: int, round_: int = 0) -> int:
    """Deterministic answer (0 = don't know) so that the database can be checked afterwards."""
    return (rater_index + position + round_) % 6


def _prepare(size: int):
    """A fresh open wave with `size` customer raters and their tokens; removes earlier bench data."""
    import datetime

    from django.utils import timezone

    from keyfit.accounts.models import Account, Contact
    from keyfit.core.models import SecureLink
    from keyfit.core.roles import Role
    from keyfit.fitcanvas import services
    from keyfit.fitcanvas.models import Rater, Statement, Wave
    from keyfit.users.models import User

    old = Account.objects.filter(name__startswith="bench fit ")
    rater_ids = [str(pk) for pk in Rater.objects.filter(wave__account__in=old).values_list("pk", flat=True)]
    SecureLink.objects.filter(purpose=services.LINK_PURPOSE, object_id__in=rater_ids).delete()
    Wave.objects.filter(account__in=old).delete()
    old.delete()
    User.objects.filter(email__endswith="@bench-fit.local").delete()

    kam = User.objects.create_user(
        email="kam@bench-fit.local", password=None, full_name="Bench KAM", role=Role.KEY_ACCOUNT_MANAGER
    )
    account = Account.objects.create(name="bench fit submit", owner=kam)
    Contact.objects.bulk_create(
        Contact(account=account, name=f"Respondent {i}", email=f"r{i}@customer.bench", language="en")
        for i in range(size)
    )
    wave = services.wave_create(
        account=account, actor=kam, name="bench", due_date=timezone.localdate() + datetime.timedelta(days=7)
    )
    Rater.objects.bulk_create(
        Rater(wave=wave, side="customer", contact=c) for c in Contact.objects.filter(account=account).order_by("id")
    )
    wave = services.wave_open(wave=wave, actor=kam)
    links = services.wave_invite(wave=wave, actor=kam, base_url="")  # mail goes to the console backend
    token_of = {link["rater_id"]: link["url"].rstrip("/").rsplit("/", 1)[1] for link in links}
    raters = list(Rater.objects.filter(wave=wave).order_by("id").values_list("id", flat=True))
    statements = list(
        Statement.objects.filter(template_id=wave.template_id, retired=False)
        .order_by("position", "id")
        .values_list("id", "element")
    )
    return wave, [(i, rid, token_of[rid]) for i, rid in enumerate(raters)], statements


def _start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KEYFIT_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DB_CONN_MAX_AGE": "600",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    log = open(ROOT / "var" / "fit-submit-server.log", "wb")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn") if (ROOT / ".venv" / "bin" / "gunicorn").exists() else "gunicorn",
            "config.wsgi",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--backlog",
            "1024",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(150):  # up to 15 s
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"the server did not start on {HOST}:{port}; see var/fit-submit-server.log")


class Client:
    """One keep-alive connection per respondent; reconnects once after a dropped connection."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None, float]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        for attempt in (0, 1):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                elapsed = (time.perf_counter() - start) * 1000
                try:
                    parsed = json.loads(data) if data else None
                except ValueError:
                    parsed = None
                return response.status, parsed, elapsed
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 1 or method != "GET":
                    # a save whose connection dropped may or may not have been applied: count it
                    raise
        raise RuntimeError("unreachable")


def _respondent(port: int, index: int, token: str, barrier: threading.Barrier) -> dict:
    saves: list[float] = []
    errors: list[str] = []
    client = Client(port)
    path = f"/api/v1/fit/respond/{token}"
    try:
        barrier.wait(timeout=60)
        status, body, _ = client.call("GET", path)
        if status != 200 or body is None:
            return {"saves": saves, "errors": [f"open {status}"]}
        elements = body["elements"]
        position = 0
        positions = {}
        for element in elements:
            for statement in element["statements"]:
                positions[statement["id"]] = position
                position += 1
        for element in elements:
            answers = {str(s["id"]): _score(index, positions[s["id"]]) for s in element["statements"]}
            status, _, ms = client.call("PUT", path, {"answers": answers})
            saves.append(ms)
            if status != 200:
                errors.append(f"save {status}")
        again = elements[index % len(elements)]
        answers = {str(s["id"]): _score(index, positions[s["id"]], 1) for s in again["statements"]}
        status, _, ms = client.call("PUT", path, {"answers": answers})
        saves.append(ms)
        if status != 200:
            errors.append(f"resave {status}")
        status, body, ms = client.call("PUT", path, {"submit": True, "horizon": "long" if index % 2 else "short"})
        saves.append(ms)
        if status != 200 or not body or not body.get("submitted"):
            errors.append(f"submit {status}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        client.conn.close()
    return {"saves": saves, "errors": errors, "resaved": index % 9}


def _healthz(port: int, size: int, rounds: int = 10) -> list[float]:
    barrier = threading.Barrier(size)

    def one(_):
        client = Client(port)
        barrier.wait(timeout=60)
        samples = []
        for _ in range(rounds):
            status, _, ms = client.call("GET", "/healthz")
            if status == 200:
                samples.append(ms)
        client.conn.close()
        return samples

    with ThreadPoolExecutor(max_workers=size) as pool:
        return [ms for samples in pool.map(one, range(size)) for ms in samples]


def _verify(wave, respondents, statements) -> dict:
    from django.db.models import Count

    from keyfit.fitcanvas.models import Answer, Rater

    positions = {sid: pos for pos, (sid, _) in enumerate(statements)}
    elements = []
    for _, element in statements:
        if element not in elements:
            elements.append(element)
    element_of = dict(statements)
    stored = {
        (r, s): v
        for r, s, v in Answer.objects.filter(rater__wave=wave).values_list("rater_id", "statement_id", "score")
    }
    duplicated = (
        Answer.objects.filter(rater__wave=wave)
        .values("rater_id", "statement_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    lost = 0
    for index, rater_id, _ in respondents:
        resaved = elements[index % len(elements)]
        for sid, pos in positions.items():
            expected = _score(index, pos, 1 if element_of[sid] == resaved else 0)
            if stored.get((rater_id, sid)) != expected:
                lost += 1
    submitted = Rater.objects.filter(wave=wave, submitted_at__isnull=False).count()
    return {
        "answers_in_db": len(stored),
        "answers_expected": len(respondents) * len(statements),
        "lost": lost,
        "duplicated": duplicated,
        "submitted": submitted,
    }


def _results_timing(runs: int = 30) -> dict:
    """Results of a 50-rater wave computed from the database (one query for the answers)."""
    import datetime

    from django.utils import timezone

    from keyfit.accounts.models import Account, Contact
    from keyfit.core.roles import Role
    from keyfit.fitcanvas import selectors, services
    from keyfit.fitcanvas.models import Answer, Rater, Statement
    from keyfit.users.models import User

    kam = User.objects.get(email="kam@bench-fit.local")
    account = Account.objects.create(name="bench fit results", owner=kam)
    users = [
        User.objects.create_user(
            email=f"s{i}@bench-fit.local", password=None, full_name=f"S{i}", role=Role.KEY_ACCOUNT_MANAGER
        )
        for i in range(RESULT_RATERS // 2)
    ]
    contacts = Contact.objects.bulk_create(
        Contact(account=account, name=f"C{i}", email=f"c{i}@customer.bench") for i in range(RESULT_RATERS // 2)
    )
    wave = services.wave_create(
        account=account, actor=kam, name="results", due_date=timezone.localdate() + datetime.timedelta(days=7)
    )
    raters = Rater.objects.bulk_create(
        [Rater(wave=wave, side="supplier", user=u) for u in users]
        + [Rater(wave=wave, side="customer", contact=c) for c in contacts]
    )
    statements = list(
        Statement.objects.filter(template_id=wave.template_id, retired=False).values_list("id", flat=True)
    )
    Answer.objects.bulk_create(
        Answer(rater=r, statement_id=sid, score=(i * 7 + j) % 6)
        for i, r in enumerate(raters)
        for j, sid in enumerate(statements)
    )
    samples = []
    for _ in range(3):
        selectors.wave_compute_results(wave)
    for _ in range(runs):
        start = time.perf_counter()
        selectors.wave_compute_results(wave)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "results_50_raters_p50_ms": round(percentile(samples, 50), 2),
        "results_50_raters_p95_ms": round(percentile(samples, 95), 2),
    }


def run(args) -> dict:
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", None, ""):
        raise SystemExit("fit-submit only runs against a local database")
    _ensure_database(url)
    configure(url)
    migrate()
    from django.db import connection

    # the server uses the database cache (rate-limit counters): create its table with the server's settings
    subprocess.run(
        [sys.executable, "manage.py", "createcachetable"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "KEYFIT_DEMO": "1", "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
    )
    size = args.size
    wave, respondents, statements = _prepare(size)
    connection.close()
    port = getattr(args, "port", PORT)
    server = _start_server(url, port, getattr(args, "workers", 3), getattr(args, "threads", 8))
    try:
        health = _healthz(port, size)
        barrier = threading.Barrier(size)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=size) as pool:
            outcomes = list(pool.map(lambda r: _respondent(port, r[0], r[2], barrier), respondents))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    saves = [ms for o in outcomes for ms in o["saves"]]
    errors = [e for o in outcomes for e in o["errors"]]
    check = _verify(wave, respondents, statements)
    timing = _results_timing()
    value = round(percentile(saves, 95), 2)
    baseline = round(percentile(health, 95), 2)
    return {
        "name": "fit-submit",
        "size": size,
        "engine": connection.vendor,
        "metric": "p95_save_ms",
        "value": value,
        "baseline": baseline,
        "ratio": round(value / baseline, 2) if baseline else None,
        "target": {"errors": 0, "lost": 0, "duplicated": 0, "results_50_raters_p95_ms": RESULT_TARGET_MS},
        "errors": len(errors),
        "lost": check["lost"],
        "duplicated": check["duplicated"],
        "p50_save_ms": round(percentile(saves, 50), 2),
        "saves": len(saves),
        "saves_per_second": round(len(saves) / elapsed, 1),
        "submitted": check["submitted"],
        "answers_in_db": check["answers_in_db"],
        "answers_expected": check["answers_expected"],
        **timing,
        "results_ok": timing["results_50_raters_p95_ms"] <= RESULT_TARGET_MS,
        "error_samples": errors[:5],
        "server": f"gunicorn {getattr(args, 'workers', 3)}x{getattr(args, 'threads', 8)} on {HOST}:{port}",
    }


if __name__ == "__main__":
    sys.exit("run through `python -m bench fit-submit`")
