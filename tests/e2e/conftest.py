"""Browser journeys with Playwright driving Debian's Chromium (never a downloaded browser).

Chromium is found at $KEYFIT_CHROMIUM, else /usr/bin/chromium; the journeys skip when neither exists
(.ci/run installs it, so CI always runs them).
"""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("KEYFIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Playwright's sync API runs an event loop in this thread; the ORM calls made by the tests around it are
# ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _serve_one_request_at_a_time() -> None:
    """The live server answers one request at a time on SQLite. There the test database is in memory, and
    every server thread shares the test's one connection. A page whose panels load at once (htmx,
    `hx-trigger="load"`) sent overlapping requests through it, and now and then one failed. Without threads,
    Django closes each HTTP connection after its answer, so a waiting browser connection never stalls the
    server. PostgreSQL gives each server thread a connection of its own and keeps the threaded server."""
    from django.conf import settings
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    class OneAtATime(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            # requests are answered in the server's own thread, which took the overrides already
            super().__init__(*args, **kwargs)

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        LiveServerThread.server_class = OneAtATime


def pytest_configure(config):
    _serve_one_request_at_a_time()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(**context_options) → a page in a fresh browser context (own cookies, own language)."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", live_server.url)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def login(new_page):
    """login(user, password) → a page signed in as that user."""

    def do(user, password="correct-horse-battery", **options):
        page = new_page(**options)
        page.goto("/login/")
        page.fill("input[name=email]", user.email)
        page.fill("input[name=password]", password)
        page.click("main form button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return do
