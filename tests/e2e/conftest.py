"""A real browser against a real demo site: web server and task worker as subprocesses.

Browser tests run where Chromium is installed (``/usr/bin/chromium`` or
``PROGRESS_TRACKING_CHROMIUM``) and are skipped with a message where it is not; with
``PROGRESS_TRACKING_REQUIRE_BROWSER=1`` (CI) a missing browser fails instead. Each failing
test leaves screenshots of its pages in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
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
OTHER_USER = ("e2e-other", "e2e-password-456")
# As in the demo: more than one worker, so one user's batch does not starve another's.
WORKERS = 2
# Small, so the oversize upload of the browser tests stays cheap to build.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
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


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        _unavailable(
            f"Chromium not found at {CHROMIUM}: browser tests skipped "
            "(apt-get install chromium, or set PROGRESS_TRACKING_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed: browser tests skipped")


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

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
            # Below the step time, so each step is written and a cancel is seen at the next.
            "PROGRESS_RECORDER_MIN_INTERVAL": "0.2",
            "KNOWLEDGE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "LOG_LEVEL": "WARNING",
        }
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
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
        self.manage("ensure_demo_user", *OTHER_USER)
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
        """Start the workers as the demo does: first end what dead workers left."""
        self.manage("recover_interrupted_uploads")
        self.workers = [
            self._spawn(
                f"worker{n}", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"
            )
            for n in range(WORKERS)
        ]

    def kill_worker(self) -> None:
        """SIGKILL every worker, as when a machine dies: no cleanup code runs."""
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    def stop(self) -> None:
        for proc in (*self.workers, self.server):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._drop:
            self._drop()


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """One site for every browser test module (starting one takes ~15 s)."""
    _require_browser()
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
    log_in(page, DEMO_USER)
    yield ctx
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, open_page in enumerate(ctx.pages):
            path = ARTIFACTS / f"{request.node.name}-page{index}.png"
            open_page.screenshot(path=str(path), full_page=True)
    ctx.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from npm (tests/js devDependency), installed with npm ci when missing."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm not found: cannot install axe-core for the accessibility checks")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(AXE.parents[2])],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def assert_accessible(axe_source):
    """Run axe-core's WCAG 2.1 A and AA rules on a page; any violation fails the test."""

    def check(page, state: str) -> None:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(content=axe_source)
        violations = page.evaluate(
            """async (tags) => {
                const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
                return result.violations.map((v) => ({
                    rule: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map((n) => n.target.join(" ")),
                }));
            }""",
            WCAG_21_AA,
        )
        assert violations == [], f"accessibility violations ({state}): {violations}"

    return check


def log_in(page, user: tuple[str, str]) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user[0])
    page.fill("#id_password", user[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/knowledge/")
