"""Scenario 6: the status endpoint's fast path against celery-progress and the bare views.

Five gunicorn servers (2 sync workers each) run at once, so every endpoint is measured in the
same interleaved rounds:

- SQLite, no cache: the bare Django view, the bare DRF view (session auth), celery-progress
  (Redis result backend), and our status endpoint by cookie and by read capability;
- SQLite + Redis (``PROGRESS_CACHE_URL``): the status endpoint by capability;
- PostgreSQL, no cache (the run's main server): the bare DRF view, status by cookie and by
  capability; PostgreSQL + Redis: status by capability.

- PostgreSQL + Redis, spread: 304s and 200s over ``SPREAD`` sessions polled in turn, so that
  no process answers one session twice within the fast path's per-process memo
  (``cache.MEMO_TTL``): every poll is a cache read, as when many users each poll their own
  session once a second.

Each capability endpoint is checked first to be answered by the fast path (its answers carry
no renewed capability; the cookie path's do).

The machine is shared, and its load changes within seconds: each round measures celery-progress
before and after every other endpoint, and an endpoint's ratio in a round is its throughput over
the mean of the two celery-progress runs around it (ratios between two other endpoints are
quotients of those). The verdicts use the median round.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .harness import (
    BENCH_USER,
    PYTHON,
    ROOT,
    Server,
    bench_env,
    combine,
    http_get,
    log,
    login,
    manage,
    verdict,
    wrk,
)
from .peers import redis_url, seed_celery_task
from .scenario_poll import create_polled_session

if TYPE_CHECKING:
    from .run import Context

CONNECTIONS = 16  # as in the issue that set the targets
CAPABILITY = "X-Progress-Capability"
CELERY_TARGET_200 = 1.0
CELERY_TARGET_304 = 1.2
NO_CACHE_TARGET = 1.2
REFERENCE = "celery_progress"
SPREAD = 2000  # sessions polled in turn: each one every SPREAD / req/s seconds

LABELS = {
    "bare_django": "bare Django view (no auth, no database)",
    "celery_progress": "celery-progress `get_progress` (Redis result backend, no auth)",
    "bare_drf": "bare DRF view + session auth, SQLite (the floor)",
    "sqlite_cookie_200": "status by cookie, 200, SQLite",
    "sqlite_cap_200": "status by capability, 200, SQLite, no cache",
    "sqlite_cap_304": "status by capability, 304, SQLite, no cache",
    "sqlite_redis_200": "status by capability, 200, SQLite + Redis",
    "sqlite_redis_304": "status by capability, 304, SQLite + Redis",
    "pg_bare_drf": "bare DRF view + session auth, PostgreSQL",
    "pg_cookie_200": "status by cookie, 200, PostgreSQL",
    "pg_cap_200": "status by capability, 200, PostgreSQL, no cache",
    "pg_cap_304": "status by capability, 304, PostgreSQL, no cache",
    "pg_redis_200": "status by capability, 200, PostgreSQL + Redis",
    "pg_redis_304": "status by capability, 304, PostgreSQL + Redis",
    "pg_redis_200_spread": f"same, 200, {SPREAD:,} sessions in turn (a cache read each)",
    "pg_redis_304_spread": f"same, 304, {SPREAD:,} sessions in turn (a cache read each)",
}

# name -> (url, headers, file of requests sent in turn or None)
Target = tuple[str, dict[str, str], Path | None]


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def sqlite_site(ctx: Context) -> tuple[dict[str, str], str]:
    """A SQLite database with the benchmark user and a polled session; its env and the id."""
    path = ctx.log_dir / f"fastpoll-{uuid.uuid4().hex[:8]}.sqlite3"
    env = bench_env(f"sqlite:///{path}", BENCH_REDIS_URL=redis_url())
    manage(env, "migrate", "--noinput", "-v0")
    done = subprocess.run(
        [PYTHON, "-m", "tests.benchmarks.writer", "prepare-poll", *BENCH_USER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return env, json.loads(done.stdout.strip().splitlines()[-1])["session_id"]


def status_targets(
    prefix: str, base: str, session_id: str, cookie: str | None, token: str
) -> dict[str, Target]:
    url = f"{base}/api/v1/progress/{session_id}/status"
    code, headers, body = http_get(url, {CAPABILITY: token})
    assert code == 200, (prefix, code, body[:200])
    assert CAPABILITY not in headers, f"{prefix}: not answered by the fast path"
    found: dict[str, Target] = {
        f"{prefix}_200": (url, {CAPABILITY: token}, None),
        f"{prefix}_304": (url, {CAPABILITY: token, "If-None-Match": headers["ETag"]}, None),
    }
    if cookie is not None:
        found[f"{prefix.split('_')[0]}_cookie_200"] = (url, {"Cookie": cookie}, None)
    return found


def spread_targets(ctx: Context, base: str, env: dict[str, str]) -> dict[str, Target]:
    """SPREAD sessions of the benchmark user, polled in turn (see wrk_spread.lua)."""
    listed = ctx.log_dir / "spread-304.tsv"
    command = ["prepare-spread", BENCH_USER[0], str(SPREAD), str(listed)]
    subprocess.run(
        [PYTHON, "-m", "tests.benchmarks.writer", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    lines = listed.read_text().splitlines()
    without_etag = ctx.log_dir / "spread-200.tsv"
    without_etag.write_text("".join(line.rpartition("\t")[0] + "\t\n" for line in lines))
    for line in (lines[0], lines[-1]):
        path, token, etag = line.split("\t")
        code, headers, _ = http_get(f"{base}{path}", {CAPABILITY: token, "If-None-Match": etag})
        assert code == 304 and CAPABILITY not in headers, ("spread", code)
    return {
        "pg_redis_200_spread": (f"{base}/", {}, without_etag),
        "pg_redis_304_spread": (f"{base}/", {}, listed),
    }


def capability_of(base: str, session_id: str, cookie: str) -> str:
    """What polling.js gets: the capability handed out by the first cookie poll."""
    code, headers, body = http_get(
        f"{base}/api/v1/progress/{session_id}/status", {"Cookie": cookie}
    )
    assert code == 200 and CAPABILITY in headers, (code, body[:200])
    return headers[CAPABILITY]


def check(targets: dict[str, Target]) -> None:
    for name, (url, headers, listed) in targets.items():
        if listed is None:
            code, _, body = http_get(url, headers)
            expected = 304 if name.endswith("_304") else 200
            assert code == expected, (name, code, body[:200])


def run_one(target: Target, seconds: float) -> Any:
    url, headers, listed = target
    return wrk(url, seconds=seconds, connections=CONNECTIONS, headers=headers, requests_file=listed)


def measure_bracketed(
    targets: dict[str, Target], *, rounds: int, seconds: float
) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """Every endpoint between two runs of the reference; per-round ratios to their mean."""
    others = [name for name in targets if name != REFERENCE]
    runs: dict[str, list[Any]] = {name: [] for name in targets}
    ratios: dict[str, list[float]] = {name: [] for name in targets}
    for r in range(rounds):
        order = others[r % len(others) :] + others[: r % len(others)]
        before = run_one(targets[REFERENCE], seconds)
        runs[REFERENCE].append(before)
        ratios[REFERENCE].append(1.0)
        for name in order:
            result = run_one(targets[name], seconds)
            after = run_one(targets[REFERENCE], seconds)
            runs[name].append(result)
            runs[REFERENCE].append(after)
            ratios[name].append(result.rps / ((before.rps + after.rps) / 2))
            before = after
    return {name: combine(runs[name]) for name in targets}, ratios


def run_fastpoll(ctx: Context) -> dict[str, Any]:
    flush_redis()
    cache_env = {"PROGRESS_CACHE_URL": redis_url(), "BENCH_REDIS_URL": redis_url()}
    task_id = str(uuid.uuid4())
    with ExitStack() as stack:
        sqlite_env, sqlite_session = sqlite_site(ctx)
        pg_cache_env = bench_env(ctx.database_url, **cache_env)
        servers = {
            "sqlite": Server(sqlite_env, log_dir=ctx.log_dir),
            "sqlite_redis": Server({**sqlite_env, **cache_env}, log_dir=ctx.log_dir),
            "pg_redis": Server(pg_cache_env, log_dir=ctx.log_dir),
        }
        for server in servers.values():
            stack.enter_context(server)
        seed_celery_task(task_id)
        sqlite, pg = servers["sqlite"].base_url, ctx.server.base_url
        pg_redis = servers["pg_redis"].base_url
        sqlite_cookie = login(sqlite, *BENCH_USER)
        sqlite_token = capability_of(sqlite, sqlite_session, sqlite_cookie)
        # Its own session: the cleanup scenario empties the table the run's session was in.
        pg_session = create_polled_session(ctx.user, name="Polled by the fast path")
        pg_token = capability_of(pg, pg_session, ctx.cookie)
        log(f"fast path: {SPREAD} sessions to poll in turn")
        targets: dict[str, Target] = {
            "bare_django": (f"{sqlite}/bench/bare", {}, None),
            "celery_progress": (f"{sqlite}/bench/celery-progress/{task_id}", {}, None),
            "bare_drf": (f"{sqlite}/bench/ok", {"Cookie": sqlite_cookie}, None),
            **status_targets("sqlite_cap", sqlite, sqlite_session, sqlite_cookie, sqlite_token),
            **status_targets(
                "sqlite_redis", servers["sqlite_redis"].base_url, sqlite_session, None, sqlite_token
            ),
            "pg_bare_drf": (f"{pg}/bench/ok", {"Cookie": ctx.cookie}, None),
            **status_targets("pg_cap", pg, pg_session, ctx.cookie, pg_token),
            **status_targets("pg_redis", pg_redis, pg_session, None, pg_token),
            **spread_targets(ctx, pg_redis, pg_cache_env),
        }
        targets = {name: targets[name] for name in LABELS}
        check(targets)
        code, _, body = http_get(*targets["celery_progress"][:2])
        assert code == 200 and json.loads(body)["progress"]["current"] == 5, body[:200]
        log("fast path: warming up the workers")
        for target in targets.values():
            run_one(target, 1)
        rounds, seconds = (1, 1) if ctx.quick else (5, max(2, round(ctx.duration / 4)))
        log(
            f"fast path: {rounds} round(s) x {len(targets)} endpoints x {seconds:g} s, each "
            f"between two celery-progress runs, {CONNECTIONS} connections"
        )
        results, ratios = measure_bracketed(targets, rounds=rounds, seconds=seconds)
    return summarise(results, ratios, rounds, seconds)


def median_ratio(ratios: dict[str, list[float]], name: str, base: str) -> float:
    rounds = zip(ratios[name], ratios[base], strict=True)
    return round(statistics.median(a / b for a, b in rounds), 3)


def summarise(
    results: dict[str, Any], per_round: dict[str, list[float]], rounds: int, seconds: float
) -> dict[str, Any]:
    ratios = {
        name: {
            "vs_bare_drf": median_ratio(per_round, name, "bare_drf"),
            "vs_celery_progress": median_ratio(per_round, name, REFERENCE),
            "vs_same_db_drf": median_ratio(
                per_round, name, "pg_bare_drf" if name.startswith("pg_") else "bare_drf"
            ),
        }
        for name in results
    }

    def target(name: str, base: str, floor: float) -> dict[str, Any]:
        value = ratios[name][f"vs_{base}"]
        return {"target": f">= {floor}", "value": value, "verdict": verdict(value >= floor)}

    return {
        "server": "five gunicorn servers, 2 sync workers each; SQLite and PostgreSQL, "
        "with and without Redis (PROGRESS_CACHE_URL)",
        "load": f"wrk -t1 -c{CONNECTIONS}, {rounds} round(s) of {seconds:g} s per endpoint, "
        "each endpoint between two celery-progress runs; ratios are the median of the "
        "per-round ratios",
        "endpoints": results,
        "ratios": ratios,
        "per_round_vs_celery_progress": {
            name: [round(v, 3) for v in values] for name, values in per_round.items()
        },
        "targets": {
            "sqlite_redis_200_vs_celery_progress": target(
                "sqlite_redis_200", REFERENCE, CELERY_TARGET_200
            ),
            "sqlite_redis_304_vs_celery_progress": target(
                "sqlite_redis_304", REFERENCE, CELERY_TARGET_304
            ),
            "pg_redis_200_vs_celery_progress": target("pg_redis_200", REFERENCE, CELERY_TARGET_200),
            "pg_redis_304_vs_celery_progress": target("pg_redis_304", REFERENCE, CELERY_TARGET_304),
            "sqlite_cap_200_vs_bare_drf": target("sqlite_cap_200", "bare_drf", NO_CACHE_TARGET),
            "sqlite_cap_304_vs_bare_drf": target("sqlite_cap_304", "bare_drf", NO_CACHE_TARGET),
        },
    }
