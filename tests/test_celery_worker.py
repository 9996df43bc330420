"""A real Celery worker on the local Redis reports progress that the API serves.

The worker is a separate process (``celery -A tests.celery_app worker``), so it needs a
database both processes see: PostgreSQL (``DATABASE_URL=postgres://...``). Redis URLs come
from ``PROGRESS_TRACKING_CELERY_BROKER`` / ``PROGRESS_TRACKING_CELERY_BACKEND`` (defaults:
databases 1 and 2 on 127.0.0.1:6379). Where Redis is absent the test is skipped, unless
``PROGRESS_TRACKING_REQUIRE_CELERY=1`` (the CI leg) makes that a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from progress_tracking import services
from progress_tracking.models import get_progress_model

ROOT = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("PROGRESS_TRACKING_CELERY_BROKER", "redis://127.0.0.1:6379/1")
BACKEND = os.environ.get("PROGRESS_TRACKING_CELERY_BACKEND", "redis://127.0.0.1:6379/2")
REQUIRED = os.environ.get("PROGRESS_TRACKING_REQUIRE_CELERY") == "1"

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


def unavailable() -> str | None:
    """Why a real worker cannot run here, or None."""
    try:
        import celery  # noqa: F401
        import redis
    except ImportError as exc:
        return f"Celery or redis-py is not installed ({exc}); pip install 'celery[redis]'"
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {BROKER} ({exc})"
    if connection.vendor != "postgresql":
        return (
            "a worker process needs a database the test process shares: run with "
            "DATABASE_URL=postgres://..."
        )
    return None


@pytest.fixture
def worker(tmp_path):
    reason = unavailable()
    if reason:
        if REQUIRED:
            pytest.fail(f"PROGRESS_TRACKING_REQUIRE_CELERY=1 but {reason}")
        pytest.skip(reason)
    from tests.celery_app import app

    s = connection.settings_dict
    queue = f"progress-tracking-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or 'localhost'}:"
            f"{s['PORT'] or 5432}/{s['NAME']}"
        ),
        "PROGRESS_TRACKING_CELERY_BROKER": BROKER,
        "PROGRESS_TRACKING_CELERY_BACKEND": BACKEND,
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield app, queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker that hangs
            process.kill()
            process.wait()
        log.close()
        print((tmp_path / "worker.log").read_text()[-3000:])


def poll_until_finished(client, session_id, timeout=60.0):
    """Poll the status endpoint like the browser does, until a final status."""
    url = reverse("progress_tracking:status", kwargs={"session_id": session_id})
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.append(body["progress"])
        if body["status"] in ("completed", "error"):
            return body, seen
        time.sleep(0.1)
    raise AssertionError(f"session {session_id} did not finish in {timeout} s: {seen[-5:]}")


@pytest.fixture
def client(user):
    api = APIClient()
    api.force_login(user)
    return api


def new_session(user, files):
    model = get_progress_model()
    row = model.objects.create(name="celery", user=user)
    return services.start_session(row, files=files)


def test_a_celery_task_reports_until_completed(worker, client, user):
    app, queue = worker
    sid = new_session(user, ["a.txt", "b.txt"])
    app.send_task("tests.celery_app.process_files", args=[sid, ["a.txt", "b.txt"]], queue=queue)
    body, seen = poll_until_finished(client, sid)
    assert body["status"] == "completed", body
    assert body["progress"] == 100 and body["processed_files"] == 2
    assert body["message"] == "All files processed."
    assert seen == sorted(seen), "progress only grows"


def test_a_failing_task_ends_the_session_as_error(worker, client, user):
    app, queue = worker
    sid = new_session(user, ["good.txt", "bad.txt"])
    app.send_task(
        "tests.celery_app.process_files",
        args=[sid, ["good.txt", "bad.txt"], "bad.txt"],
        queue=queue,
    )
    body, _ = poll_until_finished(client, sid)
    assert body["status"] == "error"
    assert body["error"] == "bad.txt is not a valid document"


def test_a_soft_time_limit_ends_the_session_as_error(worker, client, user):
    app, queue = worker
    sid = new_session(user, [])
    app.send_task("tests.celery_app.process_slowly", args=[sid], queue=queue)
    body, _ = poll_until_finished(client, sid)
    assert body["status"] == "error"
    assert body["error"] == "Stopped: the task ran past its 1 s time limit."
