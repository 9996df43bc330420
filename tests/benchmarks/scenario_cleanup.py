"""Scenario 4: sweeping 100,000 stale sessions among 200,000 rows, with a poller running.

The table is refilled with stale sessions (half processing, half completed, a week old), live
sessions and rows without progress. A poller process polls a live session the whole time;
``manage.py cleanup_progress`` runs in its own process. Reported: the sweep's time and memory,
and the poller's latencies before and during the sweep.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .harness import PYTHON, ROOT, log, percentile, verdict

if TYPE_CHECKING:
    from .run import Context

MAX_POLL_TARGET = 0.5  # seconds: a poll during the sweep must stay a fraction of a second


def refill(ctx: Context, total: int, stale: int) -> str:
    from django.db import connection

    from progress_tracking.models import Knowledge

    from .scenario_poll import create_polled_session
    from .seed import seed_rows

    table = Knowledge._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
    session_id = create_polled_session(ctx.user, name="Polled during the sweep")
    live = (total - stale) * 3 // 5
    empty = total - stale - live - 1
    log(f"cleanup: inserting {total - 1} rows ({stale} stale, {live} live, {empty} empty)")
    seed_rows(ctx.database_url, total - 1, table=table, now=ctx.now(), stale=stale, empty=empty)
    return session_id


def summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "polls": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
    }


def run_cleanup(ctx: Context) -> dict[str, Any]:
    from progress_tracking.models import Knowledge

    total, stale = (20_000, 10_000) if ctx.quick else (200_000, 100_000)
    session_id = refill(ctx, total, stale)
    url = f"{ctx.server.base_url}/api/v1/progress/{session_id}/status"
    baseline = 1.5 if ctx.quick else 4.0
    with tempfile.TemporaryDirectory(prefix="progress-bench-") as tmp:
        out = Path(tmp) / "polls.json"
        poller = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.benchmarks.poller",
                url,
                "--cookie",
                ctx.cookie,
                "--out",
                str(out),
                "--duration",
                "300",
            ],
            cwd=ROOT,
            env=ctx.env,
        )
        try:
            time.sleep(baseline)
            log(f"cleanup: sweeping {stale} stale sessions among {total} rows")
            done = subprocess.run(
                [PYTHON, "-m", "tests.benchmarks.sweeper"],
                cwd=ROOT,
                env=ctx.env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                raise RuntimeError(f"sweeper failed:\n{done.stderr}")
            sweep = json.loads(done.stdout.strip().splitlines()[-1])
            time.sleep(1.0)
        finally:
            poller.send_signal(signal.SIGINT)
            poller.wait(timeout=60)
        samples = json.loads(out.read_text())
    before = [s[1] for s in samples if s[0] + s[1] < sweep["started"]]
    during = [s[1] for s in samples if s[0] >= sweep["started"] and s[0] <= sweep["ended"]]
    statuses = sorted({s[2] for s in samples})
    left = Knowledge.objects.filter(progress_session_id__isnull=False).count()
    during_stats = summary(during)
    max_s = (during_stats["max_ms"] or 0) / 1000
    return {
        "rows": total,
        "stale_sessions": stale,
        "sessions_left": left,
        "sweep": {
            "seconds": round(sweep["seconds"], 2),
            "sessions_per_s": round(stale / sweep["seconds"]),
            "report": sweep["output"],
            "rss_after_setup_mib": round(sweep["rss_after_setup_kib"] / 1024, 1),
            "max_rss_mib": round(sweep["max_rss_kib"] / 1024, 1),
            "rss_growth_mib": round(
                (sweep["max_rss_kib"] - sweep["rss_after_setup_kib"]) / 1024, 1
            ),
        },
        "polls_before": summary(before),
        "polls_during": during_stats,
        "poll_statuses": statuses,
        "timeline": [[round(s[0] - sweep["started"], 3), round(s[1] * 1000, 2)] for s in samples],
        "targets": {
            "max_poll_during_sweep": {
                "target": f"< {MAX_POLL_TARGET * 1000:g} ms",
                "value": during_stats["max_ms"],
                "verdict": verdict(bool(during) and max_s < MAX_POLL_TARGET and statuses == [200]),
            },
        },
    }
