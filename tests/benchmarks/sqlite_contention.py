"""SQLite under contention: N writer and M poller processes on one database file.

``python -m tests.benchmarks.sqlite_contention --profile demo|previous [--writers 16]
[--pollers 4] [--duration 20]`` creates a scratch database file, migrates it, starts one
session with a file per writer, then runs every process for ``--duration`` seconds: each
writer calls ``update_file_progress`` on its own file as fast as it can, each poller reads the
session as the status endpoint does (the indexed lookup and the status body) every 20 ms.
It prints write latency percentiles and the spread of writes per writer as JSON.

Profiles: ``demo`` is the SQLite configuration of ``config/settings.py`` (what this project
recommends); ``previous`` is the one before it (rollback journal, 20 s busy timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_OPTIONS = {"timeout": 20}


def setup(profile: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    if profile == "previous":
        # Before the first connection is made, so every process uses these options.
        settings.DATABASES["default"]["OPTIONS"] = dict(PREVIOUS_OPTIONS)


def prepare(writers: int) -> str:
    from django.core.management import call_command

    from progress_tracking.models import Knowledge
    from progress_tracking.services import start_session

    call_command("migrate", verbosity=0)
    row = Knowledge.objects.create(name="contention")
    return start_session(row, files=[f"w{k}" for k in range(writers)])


def writer(session: str, worker: int, duration: float) -> dict:
    from django.db import connection

    from progress_tracking.services import update_file_progress

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    latencies, errors = [], 0
    deadline = time.perf_counter() + duration
    i = 0
    while time.perf_counter() < deadline:
        i += 1
        t0 = time.perf_counter()
        try:
            update_file_progress(session, f"w{worker}", progress=i % 99, message=f"Chunk {i}")
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    return {"latencies": latencies, "errors": errors}


def poller(session: str, duration: float) -> dict:
    from django.db import connection

    from progress_tracking.selectors import session_for_api
    from progress_tracking.serializers import ProgressStatusSerializer

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    polls, errors = 0, 0
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        try:
            record = session_for_api(session)
            assert record is not None
            json.dumps(ProgressStatusSerializer(record.progress).data)
            polls += 1
        except Exception:
            errors += 1
        time.sleep(0.02)
    return {"polls": polls, "errors": errors}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def orchestrate(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/contention.sqlite3"}
        base = [
            sys.executable,
            "-m",
            "tests.benchmarks.sqlite_contention",
            "--profile",
            args.profile,
        ]
        out = subprocess.run(
            [*base, "prepare", "--writers", str(args.writers)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        session = out.stdout.strip().splitlines()[-1]
        roles = [["writer", "--worker", str(k)] for k in range(args.writers)]
        roles += [["poller"]] * args.pollers
        procs = [
            subprocess.Popen(
                [*base, *role, "--session", session, "--duration", str(args.duration)],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for role in roles
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
        journal = subprocess.run(
            [*base, "journal"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    writes = results[: args.writers]
    latencies = [x for w in writes for x in w["latencies"]]
    counts = sorted(len(w["latencies"]) for w in writes)
    polls = results[args.writers :]
    return {
        "profile": args.profile,
        "journal_mode": journal,
        "writers": args.writers,
        "pollers": args.pollers,
        "seconds": args.duration,
        "writes": len(latencies),
        "write_errors": sum(w["errors"] for w in writes),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "writes_per_writer": {
            "min": counts[0],
            "median": statistics.median(counts),
            "max": counts[-1],
        },
        "polls": sum(p["polls"] for p in polls),
        "poll_errors": sum(p["errors"] for p in polls),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=["demo", "previous"], default="demo")
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "prepare", "writer", "poller", "journal"],
    )
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--session", default="")
    parser.add_argument("--worker", type=int, default=0)
    args = parser.parse_args()
    if args.command == "run":
        print(json.dumps(orchestrate(args), indent=2))
        return
    setup(args.profile)
    if args.command == "prepare":
        print(prepare(args.writers))
    elif args.command == "writer":
        print(json.dumps(writer(args.session, args.worker, args.duration)))
    elif args.command == "poller":
        print(json.dumps(poller(args.session, args.duration)))
    else:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            print(cursor.fetchone()[0])


if __name__ == "__main__":
    main()
