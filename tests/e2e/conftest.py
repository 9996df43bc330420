"""A real browser against a real demo site: web server and task worker as subprocesses.

Browser tests run where Chromium is installed (``/usr/bin/chromium`` or
``PROGRESS_TRACKING_CHROMIUM``) and are skipped with a message where it is not; with
``PROGRESS_TRACKING_REQUIRE_BROWSER=1`` (CI) a missing browser fails instead. Each failing
test leaves screenshots of its pages in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PROGRESS_TRACKING_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("PROGRESS_TRACKING_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
DEMO_USER = ("e2e", "e2e-password-123")
# Short on purpose: a dead worker's session must be reported within the test's time.
STALE_AFTER = 10
STEP_DELAY = 0.35


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (PROGRESS_TRACKING_REQUIRE_BROWSER=1: a skip counts as failure)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(
            f"Chromium not found at {CHROMIUM}: browser tests skipped "
            "(apt-get install chromium, or set PROGRESS_TRACKING_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: browser tests skipped")
    # Module scope: Playwright's event loop must not outlive these tests, or Django refuses
    # ORM calls in later tests of the same run.
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoSite:
    """The demo project on its own database, served by runserver, with a db_worker."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url, self._drop = self._database(tmp)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "DEBUG": "true",
            "SECRET_KEY": "e2e-only",
            "MEDIA_ROOT": str(tmp / "media"),
            "PROGRESS_STALE_AFTER": str(STALE_AFTER),
            "KNOWLEDGE_STEP_DELAY": str(STEP_DELAY),
            "LOG_LEVEL": "WARNING",
        }
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.logs = tmp

    @staticmethod
    def _database(tmp: Path):
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{tmp / 'e2e.sqlite3'}", None
        import psycopg

        name = f"progress_e2e_{uuid.uuid4().hex[:8]}"
        base, _, _ = url.rpartition("/")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"{base}/{name}", drop

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> DemoSite:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("ensure_demo_user", *DEMO_USER)
        self.server = self._spawn("server", "runserver", f"127.0.0.1:{self.port}", "--noreload")
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise RuntimeError("the demo web server did not start") from None
                time.sleep(0.2)
        self.start_worker()
        return self

    def start_worker(self) -> None:
        self.worker = self._spawn(
            "worker", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"
        )

    def kill_worker(self) -> None:
        """SIGKILL, as when a machine dies: no cleanup code runs."""
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)

    def stop(self) -> None:
        for proc in (self.worker, self.server):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._drop:
            self._drop()


@pytest.fixture(scope="module")
def demo_site(browser, tmp_path_factory):
    site = DemoSite(tmp_path_factory.mktemp("demo-site"))
    try:
        yield site.start()
    finally:
        site.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def context(browser, demo_site, request):
    """A browser context logged in as the demo user; screenshots of every page on failure."""
    ctx = browser.new_context(base_url=demo_site.base_url)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", DEMO_USER[0])
    page.fill("#id_password", DEMO_USER[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/knowledge/")
    yield ctx
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, open_page in enumerate(ctx.pages):
            path = ARTIFACTS / f"{request.node.name}-page{index}.png"
            open_page.screenshot(path=str(path), full_page=True)
    ctx.close()
