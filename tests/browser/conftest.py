"""Browser fixtures: the real service under Gunicorn, and Debian's Chromium driven by Playwright."""

import os
import re
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live import start_server, start_worker

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False

# Every browser test skips, saying why, where Chromium or Playwright is missing; CI installs
# Chromium and runs them with FAIL_ON_SKIP=1, so a skip there fails the run.
needs_browser = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.serial,  # a browser and a live server each: alone after the parallel run, not beside it
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium"),
    pytest.mark.skipif(not HAVE_PLAYWRIGHT, reason="needs Playwright for Python (the dev packages)"),
]

PASSWORD = "correct-horse-battery"
# The screenshots of the README's "Web app" section: WEBAPP_SCREENSHOTS=docs/screenshots to refresh them.
SHOTS = Path(os.environ.get("WEBAPP_SCREENSHOTS") or Path(tempfile.gettempdir()) / "webapp-screenshots")


# As `make run` serves it: gevent workers, so the pages' open event streams hold no worker.
SERVER_ENV = {
    "RATE_LIMIT_LOGIN": "1000 per minute",
    "RATE_LIMIT_DEFAULT": "100000 per minute",
    "GUNICORN_WORKER_CLASS": "gevent",
}


@pytest.fixture(scope="module")
def web_server(database_url):
    with start_server(database_url, workers=2, env=SERVER_ENV) as live:
        yield live
        if os.environ.get("TODOS_DEBUG_LOG"):
            Path(os.environ["TODOS_DEBUG_LOG"]).write_text(live.log)


@contextmanager
def service_with_worker(database_url, smtp, **settings):
    """The service as `make run` runs it, Gunicorn and the worker, mailing to `smtp` (a tests.smtp_server.SMTPServer).

    The worker sends the mails (their links on the server's address) and runs exports and imports.
    """
    env = {**SERVER_ENV, "MAIL_URL": smtp.url, "MAIL_FROM": "Todos <todos@example.com>", **settings}
    with start_server(database_url, workers=2, env=env) as live:
        worker = start_worker(database_url, {**env, "PUBLIC_BASE_URL": live.url})
        try:
            yield live
        finally:
            worker.stop()


@pytest.fixture(scope="module")
def smtp():
    """A module's SMTP server, for a module whose `web_server` is a service_with_worker."""
    from tests.smtp_server import SMTPServer

    server = SMTPServer()
    server.start()
    yield server
    server.stop()


MAIL_LINK = re.compile(r"https?://\S+\?token=[A-Za-z0-9_\-]+")


def mailed_link(smtp, address, path, timeout=30):
    """The link to `path` (e.g. "/reset-password") in the newest mail to `address`, once one has arrived."""
    from tests.smtp_server import text_part

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(smtp.inbox.to(address)):
            for link in MAIL_LINK.findall(text_part(message)):
                if f"{path}?token=" in link:
                    return link
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} with a {path} link within {timeout}s")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


class Watched:
    """A browser context and its page, recording page errors, dialogs and CSP violations."""

    def __init__(self, browser, base_url, **options):
        viewport = {"width": 1280, "height": 900}
        self.context = browser.new_context(base_url=base_url, locale="en-US", viewport=viewport, **options)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors = []
        self.dialogs = []
        self.console = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def api(self, method, path, body=None):
        """Call the API from the page, with its cookies and CSRF header: (status, body)."""
        self.page.wait_for_load_state()
        return self.page.evaluate(
            """async ([method, path, body]) => {
                const send = () => {
                    const csrf = (document.cookie.match(/(?:^|; )csrf_access_token=([^;]*)/) || [])[1] || "";
                    return fetch("/api/v1" + path, {method, credentials: "same-origin",
                        headers: {"Content-Type": "application/json", "X-CSRF-TOKEN": decodeURIComponent(csrf)},
                        body: body === null ? undefined : JSON.stringify(body)});
                };
                let r = await send();
                for (let tries = 0; r.status === 401 && tries < 3; tries += 1) {
                    // The app may have refreshed its login between our reading the CSRF cookie and
                    // sending: once it has, the cookies agree again.
                    await new Promise((done) => setTimeout(done, 1000));
                    r = await send();
                }
                const text = await r.text();
                return [r.status, text ? JSON.parse(text) : null];
            }""",
            [method, path, body],
        )

    def close(self):
        self.context.close()


@pytest.fixture
def open_context(browser, web_server):
    opened = []

    def open_(**options):
        watched = Watched(browser, web_server.url, **options)
        opened.append(watched)
        return watched

    yield open_
    for watched in opened:
        watched.close()


def new_email(name):
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def sign_up(watched, email, password=PASSWORD):
    """Create an account through the sign-up page; the app then shows the signed-in layout."""
    page = watched.page
    page.goto("/#/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("navigation", name="Your lists").wait_for()


def screenshot(page, name, full_page=False):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} looks blank"
    return path


def axe_serious(page):
    """The serious and critical violations axe-core finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
