"""The automatic cleanup under load: what the poll that started a sweep, and the others, paid.

    python -m tests.benchmarks.autosweep --database-url sqlite:////tmp/sweep.sqlite3
    python -m tests.benchmarks.autosweep --database-url postgres://postgres@127.0.0.1/bench

The database (a new SQLite file, or an existing empty PostgreSQL database) is migrated and
filled with ``--stale`` removable sessions (half processing, half completed, a week old) and
``--live`` live ones. gunicorn (2 sync workers) serves the demo with ``AUTO_CLEANUP`` on; the
schedule row says the sweep is due a few seconds after the start, so a poller measures a
baseline first, then one of its polls starts the sweep (in a thread of the worker process that
served it) and the following polls run while it sweeps. A writer process updates the polled
session every 50 ms the whole time. Prints JSON: the sweep, the poll that started it, polls
and writes before and during the sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .harness import BENCH_USER, PYTHON, ROOT, Server, bench_env, log, login, percentile
from .seed import COLUMNS, progress_dict, seed_rows

BASELINE_SECONDS = 6.0


def seed_sqlite(path: str, *, table: str, stale: int, live: int, now: datetime) -> None:
    """The same rows as ``seed.seed_rows``, for SQLite (UUIDs as hex, naive UTC datetimes)."""

    def stamp(at: datetime) -> str:
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    with sqlite3.connect(path) as conn:
        start = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        rows = []
        for i in range(stale + live):
            if i < stale:
                status = "processing" if i % 2 else "completed"
                at = now - timedelta(days=7, seconds=i % 3600)
            else:
                status, at = "processing", now - timedelta(seconds=i % 60)
            sid = uuid.uuid4()
            progress = progress_dict(str(sid), start + i + 1, status, at)
            meta = {"source": "benchmark", "processing_progress": progress}
            rows.append(
                (
                    f"bench {i}",
                    "",
                    None,
                    stamp(at),
                    stamp(at),
                    json.dumps(meta),
                    sid.hex,
                    status,
                    stamp(at),
                )
            )
        marks = ", ".join("?" * len(COLUMNS))
        conn.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})", rows)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 2) if values else None,
        "p99_ms": round(percentile(values, 99) * 1000, 2) if values else None,
        "max_ms": round(max(values) * 1000, 2) if values else None,
    }


def writer(session_id: str, out: str, duration: float) -> None:
    import django

    django.setup()
    from progress_tracking.services import update_progress

    samples = []
    deadline = time.monotonic() + duration
    step = 0
    while time.monotonic() < deadline and not Path(out + ".stop").exists():
        started = time.time()
        t0 = time.perf_counter()
        update_progress(session_id, progress=step % 100, message=f"step {step}")
        samples.append([started, time.perf_counter() - t0])
        step += 1
        time.sleep(0.05)
    Path(out).write_text(json.dumps(samples))


def prepare(args: argparse.Namespace) -> tuple[str, datetime]:
    """Migrate, create the bench user and the polled session, seed, schedule the sweep."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from progress_tracking.models import CleanupLease, Knowledge
    from progress_tracking.sweeper import LEASE_NAME

    from .scenario_poll import create_polled_session

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user(BENCH_USER[0], password=BENCH_USER[1])
    polled = create_polled_session(user)
    now = timezone.now()
    table = Knowledge._meta.db_table
    log(f"seeding {args.stale} removable and {args.live} live sessions ({connection.vendor})")
    if connection.vendor == "sqlite":
        seed_sqlite(
            str(connection.settings_dict["NAME"]),
            table=table,
            stale=args.stale,
            live=args.live,
            now=now,
        )
    else:
        seed_rows(args.database_url, args.stale + args.live, table=table, now=now, stale=args.stale)
    due = timezone.now() + timedelta(seconds=BASELINE_SECONDS + 4)
    CleanupLease.objects.update_or_create(name=LEASE_NAME, defaults={"due_at": due})
    connection.close()
    return polled, due


def measure(args: argparse.Namespace) -> dict[str, Any]:
    # This process prepares and inspects with the cleanup off; the server sweeps.
    os.environ.update(bench_env(args.database_url))
    os.environ.update(BENCH_STALE_AFTER="300", BENCH_FINISHED_TTL="300")
    polled, due = prepare(args)
    from django.db import connection

    from progress_tracking.models import CleanupLease, Knowledge

    env = {**os.environ, "BENCH_AUTO_CLEANUP": "true"}
    with (
        tempfile.TemporaryDirectory(prefix="progress-autosweep-") as tmp,
        Server(env, log_dir=Path(tmp)) as server,
    ):
        cookie = login(server.base_url, *BENCH_USER)
        polls_out, writes_out = Path(tmp) / "polls.json", Path(tmp) / "writes.json"
        url = f"{server.base_url}/api/v1/progress/{polled}/status"
        poller = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.benchmarks.poller",
                url,
                "--cookie",
                cookie,
                "--out",
                str(polls_out),
                "--duration",
                "900",
            ],
            cwd=ROOT,
            env=env,
        )
        # The writer (a worker reporting on the polled session) never starts a sweep itself.
        writer_proc = subprocess.Popen(
            [PYTHON, "-m", "tests.benchmarks.autosweep", "--write", polled, str(writes_out)],
            cwd=ROOT,
            env={**env, "BENCH_AUTO_CLEANUP": "false"},
        )
        log(f"sweep due at {due:%H:%M:%S}; waiting for it to finish")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            lease = CleanupLease.objects.get()
            if lease.last_finished_at is not None:
                break
            time.sleep(0.5)
        time.sleep(1.0)
        poller.send_signal(signal.SIGINT)
        Path(str(writes_out) + ".stop").touch()
        poller.wait(timeout=60)
        writer_proc.wait(timeout=60)
        polls = json.loads(polls_out.read_text())
        writes = json.loads(writes_out.read_text())
    started = lease.last_started_at.timestamp()
    ended = lease.last_finished_at.timestamp()
    # The poll that started the sweep: the last one to begin before the sweep claimed the lease.
    trigger = max((p for p in polls if p[0] <= started), key=lambda p: p[0])
    before = [p[1] for p in polls if p[0] + p[1] < due.timestamp()]
    during = [p[1] for p in polls if started <= p[0] <= ended and p is not trigger]
    return {
        "database": connection.vendor,
        "removable_sessions": args.stale,
        "live_sessions": args.live,
        "sweep": {
            "removed": lease.last_removed,
            "seconds": round(ended - started, 2),
            "error": lease.last_error,
            "left_behind": Knowledge.objects.filter(
                progress_updated_at__lt=due - timedelta(days=1)
            ).count(),
        },
        "trigger_poll": {
            "ms": round(trigger[1] * 1000, 2),
            "status": trigger[2],
            "began_before_claim_ms": round((started - trigger[0]) * 1000, 2),
        },
        "polls_before": summary(before),
        "polls_during": summary(during),
        "poll_statuses": sorted({p[2] for p in polls}),
        "writes_before": summary([w[1] for w in writes if w[0] + w[1] < due.timestamp()]),
        "writes_during": summary([w[1] for w in writes if started <= w[0] <= ended]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.autosweep")
    parser.add_argument("--database-url")
    parser.add_argument("--stale", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=10_000)
    parser.add_argument("--write", nargs=2, metavar=("SESSION", "OUT"))
    args = parser.parse_args()
    if args.write:
        writer(args.write[0], args.write[1], duration=900)
        return
    if not args.database_url:
        parser.error("--database-url is required")
    print(json.dumps(measure(args), indent=2))


if __name__ == "__main__":
    main()
