"""The fast path on a real Redis: no query, Redis stopping mid-run, racing processes.

Redis is taken from PROGRESS_TRACKING_TEST_REDIS_URL (default database 6 on the local server).
Where it does not answer these tests are skipped, unless PROGRESS_TRACKING_REQUIRE_REDIS is
set (the CI leg that requires Redis), where they fail.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from progress_tracking import cache, capability, services

from .fastpath_helpers import bare_client, status_url, use_cache, with_capability
from .test_concurrency import ROOT, database_url_for_workers

REDIS_URL = os.environ.get("PROGRESS_TRACKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
REDIS_BACKEND = "progress_tracking.redis_cache.RedisCache"
WRITERS, READERS, UPDATES_EACH = 2, 2, 40


def redis_answers() -> str | None:
    """None when Redis answers, else why not."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed (pip install redis)"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        return f"Redis does not answer at {REDIS_URL}: {exc}"
    return None


def require_redis() -> None:
    problem = redis_answers()
    if problem:
        if os.environ.get("PROGRESS_TRACKING_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required here: {problem}")
        pytest.skip(f"{problem} (set PROGRESS_TRACKING_TEST_REDIS_URL to use another one)")


@pytest.fixture
def redis_cache(settings):
    require_redis()
    store = use_cache(settings, backend=REDIS_BACKEND, location=REDIS_URL)
    store.clear()
    yield store
    store.clear()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on return: nothing listens there


@pytest.fixture
def session_id(knowledge, django_capture_on_commit_callbacks, redis_cache):
    with django_capture_on_commit_callbacks(execute=True):
        return services.start_session(knowledge, files=["a.pdf"], message="Queued")


@pytest.fixture
def token(session_id, user):
    return capability.sign_read_capability(session_id, user.pk)


def test_polls_answer_from_redis_without_a_query(
    session_id, token, django_assert_num_queries, redis_cache
):
    client = bare_client()
    with django_assert_num_queries(0):
        first = client.get(status_url(session_id), **with_capability(token))
    with django_assert_num_queries(0):
        again = client.get(
            status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=first["ETag"])
        )

    assert first.status_code == 200
    assert first.json()["session_id"] == session_id
    assert again.status_code == 304
    assert cache.read(redis_cache, session_id).etag == first["ETag"]


def test_redis_stopping_mid_run_falls_back_to_the_database(
    session_id, token, settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client = bare_client()
    with django_assert_num_queries(0):
        assert client.get(status_url(session_id), **with_capability(token)).status_code == 200

    # Redis goes away: the alias now points at a port where nothing listens.
    dead = f"redis://127.0.0.1:{dead_port()}/6"
    use_cache(settings, backend=REDIS_BACKEND, location=dead, OPTIONS={"socket_timeout": 0.5})
    with django_capture_on_commit_callbacks(execute=True):
        services.update_progress(session_id, message="while Redis is down")
    with django_assert_num_queries(1):
        down = client.get(status_url(session_id), **with_capability(token))
    assert down.status_code == 200
    assert down.json()["message"] == "while Redis is down"

    # Redis is back, holding the record from before the outage: the client that saw newer
    # is answered from the database, never from that older record.
    use_cache(settings, backend=REDIS_BACKEND, location=REDIS_URL)
    back = client.get(
        status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=down["ETag"])
    )
    assert back.status_code == 304
    # The next write puts Redis back in step.
    with django_capture_on_commit_callbacks(execute=True):
        services.update_progress(session_id, message="Redis is back")
    with django_assert_num_queries(0):
        body = client.get(status_url(session_id), **with_capability(token)).json()
    assert body["message"] == "Redis is back"


def run(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.progress_tracking.fastpath_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.multiprocess
@pytest.mark.django_db(transaction=True)
def test_readers_never_see_a_version_go_back(tmp_path, redis_cache):
    """Writers on several processes, readers on several more: each reader's versions only grow,
    and the final state is what every reader ends on."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_workers(tmp_path, "?timeout=20"),
        "PROGRESS_CACHE_URL": REDIS_URL,
        "ALLOWED_HOSTS": "testserver",
    }
    made = json.loads(run(env, "setup"))
    sid, token = made["session_id"], made["token"]
    go, done = tmp_path / "go", tmp_path / "done"
    module = [sys.executable, "-m", "tests.progress_tracking.fastpath_worker"]

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*module, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    readers = [start("read", sid, token, str(go), str(done)) for _ in range(READERS)]
    writers = [start("write", sid, str(UPDATES_EACH), str(go)) for _ in range(WRITERS)]
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err.decode()
    final_version = json.loads(run(env, "complete", sid))
    Path(done).touch()
    for reader in readers:
        out, err = reader.communicate(timeout=240)
        assert reader.returncode == 0, err.decode()
        seen = json.loads(out.decode().strip().splitlines()[-1])
        versions = seen["versions"]
        assert versions == sorted(versions), versions
        assert versions[-1] == final_version
        assert seen["final_status"] == "completed"
    # start (1) + every update + the completion: no update lost, the cache ended in step.
    assert final_version == 1 + WRITERS * UPDATES_EACH + 1


def test_the_backend_keeps_one_client_per_pool(redis_cache):
    inner = redis_cache._cache
    first = inner.get_client(write=True)

    assert inner.get_client(write=True) is first
    assert inner.get_client() is first  # one server: reads use the write pool too
    redis_cache.set("progress-tracking-test", {"a": 1})
    assert redis_cache.get("progress-tracking-test") == {"a": 1}
    assert redis_cache.add("progress-tracking-test", 2) is False
    redis_cache.delete("progress-tracking-test")
    assert redis_cache.get("progress-tracking-test") is None


def test_the_backend_behaves_like_djangos(settings):
    """The same operations through Django's own RedisCache and ours give the same results."""
    require_redis()
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    from progress_tracking.redis_cache import RedisCache

    ours = RedisCache(REDIS_URL, {"KEY_PREFIX": "ours"})
    theirs = DjangoRedisCache(REDIS_URL, {"KEY_PREFIX": "theirs"})
    for store in (ours, theirs):
        store.set_many({"a": 1, "b": b"x" * 100, "c": ("t", None)}, 30)
        store.incr("a", 5)
    assert ours.get_many(["a", "b", "c", "d"]) == theirs.get_many(["a", "b", "c", "d"])
    for store in (ours, theirs):
        store.delete_many(["a", "b", "c"])


@pytest.fixture
def redis_commands(monkeypatch):
    """The commands sent to Redis (a round trip each), by name."""
    import redis

    sent: list[str] = []
    real = redis.Redis.execute_command

    def execute_command(self, *args, **options):
        sent.append(str(args[0]))
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    return sent


def test_a_poll_is_one_redis_round_trip_and_the_memo_saves_even_that(
    session_id, token, redis_commands, redis_cache, django_assert_num_queries
):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    client = bare_client()
    with freeze_time(timezone.now()) as clock, django_assert_num_queries(0):
        first = client.get(status_url(session_id), **with_capability(token))
        assert redis_commands == ["GET"]
        clock.tick(timedelta(seconds=cache.MEMO_TTL / 2))
        again = client.get(
            status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=first["ETag"])
        )
        assert redis_commands == ["GET"]  # answered from this process's copy
        clock.tick(timedelta(seconds=cache.MEMO_TTL))
        later = client.get(
            status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=first["ETag"])
        )
        assert redis_commands == ["GET", "GET"]

    assert (first.status_code, again.status_code, later.status_code) == (200, 304, 304)


def test_a_cache_miss_is_two_redis_round_trips_and_one_query(
    session_id, token, redis_commands, redis_cache, django_assert_num_queries
):
    redis_cache.delete(cache.key_for(session_id))
    redis_commands.clear()

    with django_assert_num_queries(1):
        response = bare_client().get(status_url(session_id), **with_capability(token))

    assert response.status_code == 200
    assert redis_commands == ["GET", "SET"]  # the read, then the reader's add (SET NX)


def test_keeping_the_cache_in_step_is_one_redis_round_trip_per_write(
    session_id, redis_commands, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.update_progress(session_id, message="one")
        services.update_progress(session_id, message="two")

    assert redis_commands == ["SET", "SET"]
