"""Browser tests: Playwright (sync API) driving Debian's Chromium against a real Daphne server.

The server is a subprocess (`manage.py run_ecosystem --clock on`) over pytest's PostgreSQL test
database, with the environment of the suite (var/services.env) and the test settings, so the
browser talks HTTP and WebSocket to the same stack a person uses. Its Redis traffic (channel
layer, queued graph syncs) goes to a Redis database of its own, emptied at the end. Tests that
use it are ``django_db(transaction=True)``: the server only sees committed rows.

Playwright never downloads a browser here: `make browser` (scripts/install_browser.sh) installs
/usr/bin/chromium from Debian's packages.
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import token_for
from tests.subprocesses import free_port, subprocess_database_url, with_redis_db

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_REDIS_DB = int(os.environ.get("E2E_REDIS_DB", "12"))
SERVER_START_TIMEOUT_SECONDS = 60.0
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOT_DIR = REPO_ROOT / "docs" / "screenshots"
SCRATCH_SCREENSHOT_DIR = REPO_ROOT / "var" / "e2e-screenshots"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
VENDOR_FILE = REPO_ROOT / "static" / "vendor" / "cytoscape.esm.min.js"


@dataclass
class LiveServer:
    url: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, user) -> httpx.Client:
        """An HTTP client for the REST API, authenticated as ``user`` with a JWT."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token_for(user)}"},
            timeout=10.0,
        )


# Module scope: the server ticks the scenario clock in-process, so it must not outlive the
# browser tests and play the scenarios of later tests that tick the clock themselves.
@pytest.fixture(scope="module")
def live_server_process(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[LiveServer]:
    """One Daphne server (HTTP + WebSocket + in-process scenario clock) for the session."""
    if not VENDOR_FILE.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "vendor.sh")], check=True, cwd=REPO_ROOT)
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name != ASYNC_UNSAFE},
        "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        # The server's own connections end with each request: no idle connection may keep a
        # lock that the flush between tests waits for.
        "DATABASE_CONN_MAX_AGE": "0",
    }
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        env["REDIS_URL"] = with_redis_db(redis_url, SERVER_REDIS_DB)
    log_path = tmp_path_factory.mktemp("e2e-server") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_ecosystem",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--clock",
                "on",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", log_path=log_path, process=process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"The e2e server exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            pytest.fail(f"The e2e server did not answer in time:\n{server.log()}")
        time.sleep(0.3)
    yield server
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if redis_url:
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright's sync API keeps an asyncio loop running in this thread while it is open,
    and Django refuses ORM calls under a running loop. The tests' own ORM calls (seeding,
    the flush between tests) are plain synchronous code, so the check is lifted while the
    browser is open, and only then (module scope: the rest of the suite keeps the check)."""
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (Debian's chromium, installed by "
            "scripts/install_browser.sh)."
        )
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class BrowserSession:
    """A fresh browser context against the live server, with what a test needs at hand."""

    server: LiveServer
    context: BrowserContext
    page: Page
    dialogs: list[str]
    errors: list[str]

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, user, password: str = "pass-word-123") -> None:
        page = self.page
        page.goto(f"{self.url}/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}/")

    def wait_live(self) -> None:
        self.page.wait_for_selector("#conn-status[data-state=live]", timeout=10_000)

    def screenshot(self, name: str) -> None:
        """Save a viewport screenshot under var/e2e-screenshots/, and under docs/screenshots/
        when it is missing there or SAVE_SCREENSHOTS=1 (so a test run leaves the committed
        pictures alone unless asked)."""
        SCRATCH_SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        scratch = SCRATCH_SCREENSHOT_DIR / f"{name}.png"
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(scratch))
        target = SCREENSHOT_DIR / f"{name}.png"
        if os.environ.get("SAVE_SCREENSHOTS") == "1" or not target.exists():
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scratch, target)


@pytest.fixture
def open_browser(
    live_server_process: LiveServer, browser: Browser
) -> Iterator[Callable[..., BrowserSession]]:
    """Open a browser context (desktop by default; ``viewport=PHONE`` for a phone)."""
    contexts: list[BrowserContext] = []

    def open_(viewport: dict | None = None) -> BrowserSession:
        context = browser.new_context(
            viewport=viewport or DESKTOP,
            device_scale_factor=1,
            is_mobile=viewport == PHONE,
            has_touch=viewport == PHONE,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []

        def on_dialog(dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            # Confirmations the page asks for on purpose (ending a scenario) are accepted.
            if dialog.type == "confirm":
                dialog.accept()
            else:
                dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return BrowserSession(
            server=live_server_process, context=context, page=page, dialogs=dialogs, errors=errors
        )

    yield open_
    for context in contexts:
        context.close()
    quiet_server_before_flush()


SERVER_QUIET_TIMEOUT_SECONDS = 10.0


def quiet_server_before_flush() -> None:
    """The flush after a test truncates every table at once. If the server's clock is
    inside a turn then (it locks the scenario, then the cast), the two wait on each other
    and PostgreSQL ends the flush as a deadlock. So the test's scenarios are paused first
    (an update that waits for the turn in progress), and the flush waits until no other
    connection of the test database is inside a transaction."""
    from django.db import connection

    from scenarios.models import Scenario

    Scenario.objects.filter(status=Scenario.Status.ACTIVE).update(status=Scenario.Status.PAUSED)
    deadline = time.monotonic() + SERVER_QUIET_TIMEOUT_SECONDS
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
