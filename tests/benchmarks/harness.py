"""Shared machinery: scratch databases, the gunicorn server, logging in, wrk, statistics.

Everything runs on 127.0.0.1, bounded in time, and cleans up after itself.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
SETTINGS = "tests.benchmarks.settings"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
WRK_SCRIPT = HERE / "wrk_report.lua"
WRK_SPREAD_SCRIPT = HERE / "wrk_spread.lua"
CHROMIUM = os.environ.get("PROGRESS_TRACKING_CHROMIUM", "/usr/bin/chromium")
BENCH_USER = ("bench", "bench-password-123")
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- databases ------------------------------------------------------------------------------


@contextmanager
def scratch_postgres(admin_url: str):
    """A new, empty PostgreSQL database for this run; dropped afterwards whatever happens."""
    import psycopg

    name = f"progress_bench_{uuid.uuid4().hex[:10]}"
    base, _, _ = admin_url.rpartition("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "benchmark-only",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


# -- the server -----------------------------------------------------------------------------


class Server:
    """gunicorn (sync workers) serving the benchmark settings on a free loopback port."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 2,
        access_log: Path | None = None,
        log_dir: Path,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workers = workers
        self.access_log = access_log
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(self.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        if self.access_log is not None:
            cmd += [
                "--access-logfile",
                str(self.access_log),
                "--access-logformat",
                "%(m)s %(U)s %(s)s",
            ]
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"gunicorn did not start; see {self.log_path}:\n"
                        + self.log_path.read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def login(base_url: str, username: str, password: str) -> str:
    """Log in through the demo's login form; return the Cookie header value to send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    opener.open(urllib.request.Request(f"{base_url}/accounts/login/", data=data), timeout=10)
    cookies = {c.name: c.value for c in jar}
    assert "sessionid" in cookies, "login failed: no session cookie"
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    statuses: dict[str, int]
    errors: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    threads: int = 1,
    requests_file: Path | None = None,
) -> WrkResult:
    """One wrk run (a separate process) with the JSON-reporting Lua script.

    ``requests_file``: send the requests listed there in turn instead (``wrk_spread.lua``).
    """
    cmd = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT if requests_file is None else WRK_SPREAD_SCRIPT),
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    if requests_file is not None:
        cmd += ["--", str(requests_file)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    secs = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        seconds=round(secs, 3),
        rps=round(raw["requests"] / secs, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        statuses={"2xx": raw["s2xx"], "304": raw["s304"], "other": raw["sother"]},
        errors=raw["errors"],
    )


def combine(runs: Sequence[WrkResult]) -> dict[str, Any]:
    """Rounds of one endpoint: throughput over all rounds, the median round's latencies."""
    requests = sum(r.requests for r in runs)
    seconds = sum(r.seconds for r in runs)
    return {
        "rps": round(requests / seconds, 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
        "max_ms": round(max(r.max_ms for r in runs), 3),
        "requests": requests,
        "seconds": round(seconds, 2),
        "statuses": {k: sum(r.statuses[k] for r in runs) for k in runs[0].statuses},
        "errors": sum(sum(r.errors.values()) for r in runs),
        "rounds": [
            {k: v for k, v in r.as_dict().items() if k not in ("statuses", "errors")} for r in runs
        ],
    }


# -- statistics -----------------------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    rank = (len(data) - 1) * pct / 100
    low, high = int(rank), min(int(rank) + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the machine ----------------------------------------------------------------------------


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "not available"


def machine_info(postgres_url: str) -> dict[str, Any]:
    import sqlite3

    import django
    import gunicorn
    import psycopg
    import rest_framework

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    with psycopg.connect(postgres_url) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    try:
        from importlib.metadata import version

        playwright_version = version("playwright")
    except Exception:
        playwright_version = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "djangorestframework": rest_framework.VERSION,
        "gunicorn": gunicorn.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": pg_version,
        "sqlite": sqlite3.sqlite_version,
        "wrk": _first_line([WRK, "--version"]).split(" [")[0],
        "chromium": _first_line([CHROMIUM, "--version"]) if Path(CHROMIUM).exists() else "missing",
        "playwright": playwright_version,
    }
