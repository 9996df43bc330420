"""Run the benchmarks: ``python -m tests.benchmarks [--quick] [--only NAME ...]``.

Creates a scratch PostgreSQL database (dropped at the end), migrates it, starts gunicorn on a
free loopback port, logs in as a benchmark user, and runs the scenarios:

    poll      1. status endpoint vs a minimal authenticated DRF endpoint (200s and 304s)
    scale     2. poll latency with 100, 10,000 and 100,000 Knowledge rows
    writes    3. services, ProgressRecorder and a bare ORM UPDATE; 1 and 8 worker processes
    cleanup   4. sweeping 100,000 stale sessions among 200,000 rows while a poller polls
    browser   5. requests reaching the server with 1, 3 and 10 tabs open (Chromium)
    fastpoll  6. the fast path (read capability, with and without Redis, SQLite and
                 PostgreSQL) against celery-progress and the bare Django and DRF views

A full run writes ``tests/benchmarks/results/latest.json`` and regenerates
``docs/benchmarks.md`` and ``docs/benchmarks.png``; a run of some scenarios replaces theirs
in ``latest.json``. ``--quick`` is a smoke run with small sizes and short windows: it writes
``results/quick.json`` and leaves the docs alone. ``--report-only`` re-renders the docs from
``latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import (
    BENCH_USER,
    DEFAULT_POSTGRES,
    ROOT,
    SETTINGS,
    WRK,
    Server,
    bench_env,
    log,
    login,
    machine_info,
    scratch_postgres,
)

RESULTS = Path(__file__).resolve().parent / "results"
LATEST = RESULTS / "latest.json"
QUICK = RESULTS / "quick.json"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks.png"


@dataclass
class Context:
    """What every scenario gets: the run's options, database, server and logged-in user."""

    quick: bool
    duration: float
    postgres_admin_url: str
    database_url: str
    env: dict[str, str]
    log_dir: Path
    server: Server
    cookie: str
    user: Any
    session_id: str
    started: float = field(default_factory=time.time)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def scenarios() -> dict[str, Callable[[Context], dict[str, Any]]]:
    from .scenario_browser import run_browser
    from .scenario_cleanup import run_cleanup
    from .scenario_fastpoll import run_fastpoll
    from .scenario_poll import run_scale, run_throughput
    from .scenario_write import run_writes

    return {
        "poll": run_throughput,
        "scale": run_scale,
        "writes": run_writes,
        "cleanup": run_cleanup,
        "browser": run_browser,
        "fastpoll": run_fastpoll,
    }


SCENARIO_NAMES = ("poll", "scale", "writes", "cleanup", "browser", "fastpoll")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIO_NAMES,
        metavar="NAME",
        help=f"run only these scenarios ({', '.join(SCENARIO_NAMES)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small sizes, short windows (under ~2 minutes)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="scales every measurement window (default 8: poll rounds of 2 s, scale rounds "
        "of 1 s, write batches of 4 s)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        metavar="URL",
        help="PostgreSQL to create the scratch database on (default "
        f"{DEFAULT_POSTGRES}, or BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="re-render docs/benchmarks.md and .png from latest.json",
    )
    args = parser.parse_args(argv)
    if args.duration < 4:
        parser.error("--duration must be at least 4 seconds")
    return args


def check_prerequisites(args: argparse.Namespace) -> None:
    import psycopg

    if not Path(WRK).exists() and (
        args.only is None or {"poll", "scale", "fastpoll"} & set(args.only)
    ):
        raise SystemExit("wrk not found: apt-get install wrk (the poll scenarios need it)")
    try:
        psycopg.connect(args.postgres, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL not reachable at {args.postgres}: {exc}") from None
    if args.only is None or "fastpoll" in args.only:
        from .peers import redis_url

        try:
            import redis

            redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
        except Exception as exc:
            raise SystemExit(
                f"Redis not reachable at {redis_url()} (BENCH_REDIS_URL): {exc}"
            ) from None


def setup_django(database_url: str) -> None:
    """This process uses the ORM too (fixtures, checks): point it at the scratch database."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark-only",
            "DEBUG": "false",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def run_scenarios(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    log_dir = Path(tempfile.mkdtemp(prefix="progress-bench-logs-"))
    with scratch_postgres(args.postgres) as database_url:
        log(f"scratch database {database_url.rpartition('/')[2]}")
        try:
            setup_django(database_url)
            from django.contrib.auth import get_user_model

            from .scenario_poll import create_polled_session

            user = get_user_model().objects.create_user(BENCH_USER[0], password=BENCH_USER[1])
            session_id = create_polled_session(user)
            env = bench_env(database_url)
            with Server(env, log_dir=log_dir) as server:
                ctx = Context(
                    quick=args.quick,
                    duration=args.duration,
                    postgres_admin_url=args.postgres,
                    database_url=database_url,
                    env=env,
                    log_dir=log_dir,
                    server=server,
                    cookie=login(server.base_url, *BENCH_USER),
                    user=user,
                    session_id=session_id,
                )
                available = scenarios()
                for name in names:
                    started = time.monotonic()
                    log(f"== {name}")
                    try:
                        results[name] = available[name](ctx)
                    except Exception:
                        traceback.print_exc()
                        results[name] = {"error": traceback.format_exc(limit=5)}
                    results[name]["elapsed_s"] = round(time.monotonic() - started, 1)
                    results[name]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        finally:
            from django.db import connections

            connections.close_all()
            info = machine_info(args.postgres)
    shutil.rmtree(log_dir, ignore_errors=True)
    return {"machine": info, "scenarios": results}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .report import render

    if args.report_only:
        render(json.loads(LATEST.read_text()), DOC, PLOT)
        log(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
        return 0
    check_prerequisites(args)
    names = [n for n in SCENARIO_NAMES if args.only is None or n in args.only]
    started = time.monotonic()
    run = run_scenarios(args, names)
    total = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    if args.quick:
        data = {"mode": "quick", "total_s": total, **run}
        out = QUICK
    else:
        data = json.loads(LATEST.read_text()) if LATEST.exists() and args.only else {}
        data.update(
            {
                "mode": "full",
                "generated": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": "python3 dev.py bench"
                + (f" --only {' '.join(names)}" if args.only else ""),
                "duration_s": args.duration,
                "machine": run["machine"],
            }
        )
        if not args.only:
            data["total_s"] = total
        data.setdefault("scenarios", {}).update(run["scenarios"])
        out = LATEST
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    log(f"wrote {out.relative_to(ROOT)} ({total:g} s)")
    if not args.quick:
        render(data, DOC, PLOT)
        log(f"wrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    failed = [n for n, r in run["scenarios"].items() if "error" in r]
    print_summary(data)
    return 1 if failed else 0


def print_summary(data: dict[str, Any]) -> None:
    for name, result in data["scenarios"].items():
        if "error" in result:
            print(f"  {name}: ERROR (see above)")
            continue
        for key, target in result.get("targets", {}).items():
            print(
                f"  {name}.{key}: {target['value']} (target {target['target']}) {target['verdict']}"
            )


if __name__ == "__main__":
    sys.exit(main())
