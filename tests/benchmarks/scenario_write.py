"""Scenario 3: the write path, one worker and 8 worker processes on one session.

Each kind of write runs in separate worker processes (``writer.py``) that start together on a
``go`` line once Django is set up, and write for a fixed time as fast as they can:

- ``bare``: ``Knowledge.objects.filter(pk=...).update(meta=..., progress_updated_at=...)``,
  the same bytes without reading, locking or validating: the floor of one row write;
- ``update_progress`` and ``update_file_progress``: the services (read under a lock,
  validate, write ``meta`` and the indexed columns in one short transaction);
- ``recorder``: ``ProgressRecorder.file()`` in a tight loop; it writes at most every 0.5 s.

For the raw services the session's ``version`` must grow by exactly the number of calls:
that is the "no lost update" check, reported beside the rates.

The cost of keeping the fast path's cache in step (``PROGRESS_TRACKING["CACHE"]`` on Redis,
``PROGRESS_CACHE_URL``): ``update_file_progress`` without and with it, alternately in
``CACHE_ROUNDS`` rounds; each write then also re-reads the row under its lock after the
commit and sets the session's record. After the cached runs the record must hold the row's
version.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .harness import PYTHON, ROOT, bench_env, log, manage
from .peers import redis_url

if TYPE_CHECKING:
    from .run import Context

MODES = ("bare", "update_progress", "update_file_progress", "recorder")
CONCURRENCY = (1, 8)
CACHED_MODE = "update_file_progress"
CACHE_ROUNDS = 3


def writer(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [PYTHON, "-m", "tests.benchmarks.writer", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"writer {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_batch(env: dict[str, str], mode: str, workers: int, prepared: dict, seconds: float) -> dict:
    session = prepared["plain_session"] if mode == "update_progress" else prepared["file_session"]
    before = writer(env, "inspect", session)["version"] if mode != "bare" else None
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.benchmarks.writer",
                "run",
                "--mode",
                mode,
                "--session",
                session,
                "--pk",
                str(prepared["bare_pk"]),
                "--worker",
                str(k),
                "--duration",
                str(seconds),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(workers)
    ]
    try:
        for proc in procs:
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"writer did not start: {line}\n{proc.stderr.read()}")
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=seconds + 120)
            if proc.returncode != 0:
                raise RuntimeError(f"writer failed:\n{err}")
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    calls = sum(o["calls"] for o in outputs)
    db_writes = sum(o["db_writes"] for o in outputs)
    wall = max(o["seconds"] for o in outputs)
    result: dict[str, Any] = {
        "workers": workers,
        "calls": calls,
        "calls_per_s": round(calls / wall, 1),
        "db_writes_per_s": round(db_writes / wall, 1),
        "seconds": round(wall, 2),
    }
    if mode in ("update_progress", "update_file_progress"):
        inspected = writer(env, "inspect", session)
        expected = calls + workers  # plus one warm-up write per worker
        result["lost_updates"] = expected - (inspected["version"] - before)
        if "cached_version" in inspected:
            result["cache_in_step"] = inspected["cached_version"] == inspected["version"]
    return result


def cache_cost(env: dict[str, str], label: str, prepared: dict, seconds: float) -> dict:
    """CACHED_MODE without and with the cache, in alternating order, round after round."""
    cached = {**env, "PROGRESS_CACHE_URL": redis_url()}
    found: dict[str, Any] = {}
    for workers in CONCURRENCY:
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for r in range(CACHE_ROUNDS):
            order = ("off", "on") if r % 2 == 0 else ("on", "off")
            for which in order:
                log(f"writes on {label}: {CACHED_MODE}, cache {which}, {workers} worker(s)")
                runs[which].append(
                    run_batch(
                        env if which == "off" else cached, CACHED_MODE, workers, prepared, seconds
                    )
                )
        found[str(workers)] = {
            "off_calls_per_s": statistics.median(run["calls_per_s"] for run in runs["off"]),
            "on_calls_per_s": statistics.median(run["calls_per_s"] for run in runs["on"]),
            "on_vs_off": round(
                statistics.median(
                    on["calls_per_s"] / off["calls_per_s"]
                    for on, off in zip(runs["on"], runs["off"], strict=True)
                ),
                3,
            ),
            "lost_updates": sum(run["lost_updates"] for run in runs["off"] + runs["on"]),
            "cache_in_step": all(run.get("cache_in_step") for run in runs["on"]),
            "rounds": runs,
        }
    return found


def run_database(env: dict[str, str], label: str, seconds: float) -> dict[str, Any]:
    prepared = writer(env, "prepare")
    rows: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        rows[mode] = {}
        for workers in CONCURRENCY:
            log(f"writes on {label}: {mode}, {workers} worker(s), {seconds:g} s")
            rows[mode][str(workers)] = run_batch(env, mode, workers, prepared, seconds)
    ratios = {
        mode: {
            w: round(rows[mode][w]["calls_per_s"] / rows["bare"][w]["calls_per_s"], 3)
            for w in rows[mode]
        }
        for mode in MODES
        if mode != "bare"
    }
    cost_seconds = max(1.0, seconds / 2)
    return {
        "modes": rows,
        "ratios_vs_bare": ratios,
        "cache_cost": cache_cost(env, label, prepared, cost_seconds),
        "cache_cost_seconds": cost_seconds,
    }


def run_writes(ctx: Context) -> dict[str, Any]:
    seconds = 1 if ctx.quick else max(2.0, ctx.duration / 2)
    results: dict[str, Any] = {
        "method": (
            f"{seconds:g} s per kind and concurrency; separate processes started together; "
            "rates are calls per second summed over the workers"
        ),
        "postgresql": run_database(ctx.env, "PostgreSQL", seconds),
    }
    if not ctx.quick:  # the smoke run checks PostgreSQL only
        with tempfile.TemporaryDirectory(prefix="progress-bench-") as tmp:
            env = bench_env(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
            manage(env, "migrate", "--noinput", "-v0")
            results["sqlite"] = run_database(env, "SQLite", seconds)
    return results
