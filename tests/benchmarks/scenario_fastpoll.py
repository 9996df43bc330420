"""Scenario 6: the status endpoint's fast path against celery-progress and the bare views.

Five gunicorn servers (2 sync workers each) run at once, so every endpoint is measured in the
same interleaved rounds:

- SQLite, no cache: the bare Django view, the bare DRF view (session auth), celery-progress
  (Redis result backend), and our status endpoint by cookie and by read capability;
- SQLite + Redis (``PROGRESS_CACHE_URL``): the status endpoint by capability;
- PostgreSQL, no cache (the run's main server): the bare DRF view, status by cookie and by
  capability; PostgreSQL + Redis: status by capability.

Each capability endpoint is checked first to be answered by the fast path (its answers carry
no renewed capability; the cookie path's do).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import uuid
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from .harness import (
    BENCH_USER,
    PYTHON,
    ROOT,
    Server,
    bench_env,
    http_get,
    log,
    login,
    manage,
    verdict,
    wrk,
)
from .peers import redis_url, seed_celery_task
from .scenario_poll import measure_rounds

if TYPE_CHECKING:
    from .run import Context

CONNECTIONS = 16  # as in the issue that set the targets
CAPABILITY = "X-Progress-Capability"
CELERY_TARGET_200 = 1.0
CELERY_TARGET_304 = 1.2
NO_CACHE_TARGET = 1.2

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
}


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
) -> dict[str, tuple[str, dict[str, str]]]:
    url = f"{base}/api/v1/progress/{session_id}/status"
    code, headers, body = http_get(url, {CAPABILITY: token})
    assert code == 200, (prefix, code, body[:200])
    assert CAPABILITY not in headers, f"{prefix}: not answered by the fast path"
    found = {
        f"{prefix}_200": (url, {CAPABILITY: token}),
        f"{prefix}_304": (url, {CAPABILITY: token, "If-None-Match": headers["ETag"]}),
    }
    if cookie is not None:
        found[f"{prefix.split('_')[0]}_cookie_200"] = (url, {"Cookie": cookie})
    return found


def capability_of(base: str, session_id: str, cookie: str) -> str:
    """What polling.js gets: the capability handed out by the first cookie poll."""
    code, headers, body = http_get(
        f"{base}/api/v1/progress/{session_id}/status", {"Cookie": cookie}
    )
    assert code == 200 and CAPABILITY in headers, (code, body[:200])
    return headers[CAPABILITY]


def check(targets: dict[str, tuple[str, dict[str, str]]]) -> None:
    for name, (url, headers) in targets.items():
        code, _, body = http_get(url, headers)
        expected = 304 if name.endswith("_304") else 200
        assert code == expected, (name, code, body[:200])


def run_fastpoll(ctx: Context) -> dict[str, Any]:
    flush_redis()
    cache_env = {"PROGRESS_CACHE_URL": redis_url(), "BENCH_REDIS_URL": redis_url()}
    task_id = str(uuid.uuid4())
    with ExitStack() as stack:
        sqlite_env, sqlite_session = sqlite_site(ctx)
        servers = {
            "sqlite": Server(sqlite_env, log_dir=ctx.log_dir),
            "sqlite_redis": Server({**sqlite_env, **cache_env}, log_dir=ctx.log_dir),
            "pg_redis": Server(bench_env(ctx.database_url, **cache_env), log_dir=ctx.log_dir),
        }
        for server in servers.values():
            stack.enter_context(server)
        seed_celery_task(task_id)
        sqlite, pg = servers["sqlite"].base_url, ctx.server.base_url
        sqlite_cookie = login(sqlite, *BENCH_USER)
        sqlite_token = capability_of(sqlite, sqlite_session, sqlite_cookie)
        pg_token = capability_of(pg, ctx.session_id, ctx.cookie)
        targets = {
            "bare_django": (f"{sqlite}/bench/bare", {}),
            "celery_progress": (f"{sqlite}/bench/celery-progress/{task_id}", {}),
            "bare_drf": (f"{sqlite}/bench/ok", {"Cookie": sqlite_cookie}),
            **status_targets("sqlite_cap", sqlite, sqlite_session, sqlite_cookie, sqlite_token),
            **status_targets(
                "sqlite_redis", servers["sqlite_redis"].base_url, sqlite_session, None, sqlite_token
            ),
            "pg_bare_drf": (f"{pg}/bench/ok", {"Cookie": ctx.cookie}),
            **status_targets("pg_cap", pg, ctx.session_id, ctx.cookie, pg_token),
            **status_targets(
                "pg_redis", servers["pg_redis"].base_url, ctx.session_id, None, pg_token
            ),
        }
        targets = {name: targets[name] for name in LABELS}
        check(targets)
        code, _, body = http_get(*targets["celery_progress"])
        assert code == 200 and json.loads(body)["progress"]["current"] == 5, body[:200]
        log("fast path: warming up the workers")
        for url, headers in targets.values():
            wrk(url, seconds=1, connections=CONNECTIONS, headers=headers)
        rounds, seconds = (1, 1) if ctx.quick else (5, max(2, round(ctx.duration / 4)))
        log(
            f"fast path: {rounds} round(s) x {len(targets)} endpoints x {seconds:g} s, "
            f"{CONNECTIONS} connections"
        )
        results = measure_rounds(targets, rounds=rounds, seconds=seconds, connections=CONNECTIONS)
    return summarise(results, rounds, seconds)


def median_ratio(results: dict[str, Any], name: str, base: str) -> float:
    rounds = zip(results[name]["rounds"], results[base]["rounds"], strict=True)
    return round(statistics.median(a["rps"] / b["rps"] for a, b in rounds), 3)


def summarise(results: dict[str, Any], rounds: int, seconds: float) -> dict[str, Any]:
    ratios = {
        name: {
            "vs_bare_drf": median_ratio(results, name, "bare_drf"),
            "vs_celery_progress": median_ratio(results, name, "celery_progress"),
            "vs_same_db_drf": median_ratio(
                results, name, "pg_bare_drf" if name.startswith("pg_") else "bare_drf"
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
        "load": f"wrk -t1 -c{CONNECTIONS}, {rounds} interleaved round(s) of {seconds:g} s "
        "per endpoint; ratios are the median of the per-round ratios",
        "endpoints": results,
        "ratios": ratios,
        "targets": {
            "sqlite_redis_200_vs_celery_progress": target(
                "sqlite_redis_200", "celery_progress", CELERY_TARGET_200
            ),
            "sqlite_redis_304_vs_celery_progress": target(
                "sqlite_redis_304", "celery_progress", CELERY_TARGET_304
            ),
            "pg_redis_200_vs_celery_progress": target(
                "pg_redis_200", "celery_progress", CELERY_TARGET_200
            ),
            "pg_redis_304_vs_celery_progress": target(
                "pg_redis_304", "celery_progress", CELERY_TARGET_304
            ),
            "sqlite_cap_200_vs_bare_drf": target("sqlite_cap_200", "bare_drf", NO_CACHE_TARGET),
            "sqlite_cap_304_vs_bare_drf": target("sqlite_cap_304", "bare_drf", NO_CACHE_TARGET),
        },
    }
