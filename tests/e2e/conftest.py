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
