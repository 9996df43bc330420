"""ProgressRecorder through database outages: nothing reported is lost, the job never sees a
blip, and the final state is recorded when the database returns."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import OperationalError, connection

from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData, ProgressStoreUnavailable
from progress_tracking.recorder import ProgressRecorder

from .tcp_proxy import TCPProxy

WRITERS = (
    "update_file_progress",
    "update_progress",
    "mark_session_complete",
    "mark_session_error",
    "heartbeat",
)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Store:
    """The services, failing with a connection error while ``down`` is set."""

    def __init__(self, monkeypatch):
        self.down = False
        self.refused: list[str] = []
        for name in WRITERS:
            original = getattr(services, name)

            def wrapper(*args, _original=original, _name=name, **kwargs):
                if self.down:
                    self.refused.append(_name)
                    raise OperationalError("connection refused")
                return _original(*args, **kwargs)

            monkeypatch.setattr(services, name, wrapper)


@pytest.fixture
def store(monkeypatch):
    return Store(monkeypatch)


@pytest.fixture
def session(knowledge):
    return services.start_session(knowledge, files=["a.txt", "b.txt"])


def file_entry(session_id, name):
    return next(f for f in services.get_progress(session_id)["files"] if f["name"] == name)


def test_a_value_reported_during_an_outage_is_written_when_the_store_returns(session, store):
    # The reproduction: a file at 50, its completion lost to a failed write, then
    # complete() could never succeed.
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock, sleep=clock.sleep)
    recorder.file("a.txt", progress=50)
    store.down = True
    recorder.file("a.txt", progress=100, status="completed")  # no exception reaches the job
    assert store.refused == ["update_file_progress"]
    assert not recorder.delivering and recorder.pending
    recorder.file("b.txt", progress=30)  # not due yet: buffered, not attempted
    assert store.refused == ["update_file_progress"]
    store.down = False
    clock.now += 5
    recorder.file("b.txt", progress=100, status="completed")
    assert recorder.delivering and not recorder.pending
    assert file_entry(session, "a.txt")["status"] == "completed"
    assert recorder.complete()["status"] == "completed"


def test_newer_values_replace_buffered_ones(session, store):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock, sleep=clock.sleep)
    store.down = True
    recorder.file("a.txt", progress=10)
    recorder.update(message="first")
    recorder.file("a.txt", progress=40, message="newer")
    recorder.update(message="newest", current_file="a.txt")
    store.down = False
    recorder.flush()
    stored = services.get_progress(session)
    assert file_entry(session, "a.txt")["progress"] == 40
    assert stored["message"] == "newest" and stored["current_file"] == "a.txt"


def test_a_partly_failed_flush_keeps_only_what_was_not_written(session, monkeypatch):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock, sleep=clock.sleep)
    original = services.update_progress
    calls = []

    def flaky(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "update_progress", flaky)
    recorder.file("a.txt", progress=10)
    recorder.update(message="hello")
    clock.now += 1
    recorder.file("a.txt", progress=20)  # due: a.txt written, the session update fails
    assert file_entry(session, "a.txt")["progress"] == 20
    assert recorder._pending.files == {} and recorder._pending.session == {"message": "hello"}
    recorder.flush()
    assert services.get_progress(session)["message"] == "hello"


def test_retries_back_off_and_the_job_sees_the_error_only_after_the_grace_period(session, store):
    clock = FakeClock()
    recorder = ProgressRecorder(session, grace_period=30, clock=clock, sleep=clock.sleep)
    store.down = True
    recorder.file("a.txt", progress=1)
    attempts = [clock.now]
    while clock.now - attempts[0] < 29:
        clock.now += 0.1
        before = len(store.refused)
        recorder.file("a.txt", progress=2)
        if len(store.refused) > before:
            attempts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] <= 0.6 and max(gaps) > 4 * gaps[0] and max(gaps) <= 10.1  # grows, capped
    assert len(attempts) < 12  # not one attempt per report
    clock.now = attempts[0] + 30
    with pytest.raises(ProgressStoreUnavailable) as raised:
        recorder.file("a.txt", progress=3)
    assert isinstance(raised.value.__cause__, OperationalError)
    store.down = False
    recorder.flush()  # nothing was lost meanwhile
    assert file_entry(session, "a.txt")["progress"] == 3


def test_complete_waits_for_the_store_to_return(session, store):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock, sleep=clock.sleep)
    recorder.file("a.txt", progress=100, status="completed")
    store.down = True
    recorder.file("b.txt", progress=100, status="completed")
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock.sleep(seconds)
        if len(sleeps) == 3:
            store.down = False

    recorder._sleep = sleep
    assert recorder.complete()["status"] == "completed"
    assert len(sleeps) == 3 and recorder.finished


def test_complete_gives_up_after_the_grace_period(session, store):
    clock = FakeClock()
    recorder = ProgressRecorder(session, grace_period=20, clock=clock, sleep=clock.sleep)
    store.down = True
    with pytest.raises(ProgressStoreUnavailable):
        recorder.complete()
    assert clock.now - 1000 == pytest.approx(20)
    assert not recorder.finished


def test_fail_is_recorded_after_an_outage(session, store):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock, sleep=clock.sleep)
    store.down = True

    def sleep(seconds):
        clock.sleep(seconds)
        store.down = False

    recorder._sleep = sleep
    recorder.file("a.txt", progress=10)
    recorder.fail(RuntimeError("decoder crashed"))
    stored = services.get_progress(session)
    assert stored["status"] == "error" and stored["error"] == "decoder crashed"
    assert file_entry(session, "a.txt")["progress"] == 10


def test_the_jobs_exception_wins_when_its_failure_cannot_be_recorded(session, store):
    clock = FakeClock()
    store.down = True
    with (
        pytest.raises(KeyError),
        ProgressRecorder(session, grace_period=5, clock=clock, sleep=clock.sleep),
    ):
        raise KeyError("job")


def test_a_value_the_store_refuses_is_not_retried_forever(session):
    recorder = ProgressRecorder(session, clock=FakeClock())
    recorder.update(total_files=5)
    recorder.flush()
    recorder.update(total_files=1)  # fewer than the 2 tracked files
    with pytest.raises(InvalidProgressData):
        recorder.flush()
    assert not recorder.pending
    recorder.flush()


def pg_only():
    return pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    )


@pg_only()
@pytest.mark.django_db(transaction=True)
def test_a_real_postgresql_outage_mid_job(make_knowledge):
    """The connection to PostgreSQL is cut mid-job and comes back while complete() waits."""
    sid = services.start_session(make_knowledge(), files=["a.txt", "b.txt"])
    settings_dict = connection.settings_dict
    saved = (settings_dict["HOST"], settings_dict["PORT"])
    proxy = TCPProxy(saved[0] or "127.0.0.1", int(saved[1] or 5432)).start()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        recorder = ProgressRecorder(sid, min_interval=0, heartbeat_interval=0.2).start()
        recorder.file("a.txt", progress=50)
        proxy.stop()
        during = [("a.txt", 100, "completed"), ("b.txt", 40, "processing")]
        for name, progress, status in during:
            recorder.file(name, progress=progress, status=status)
        assert not recorder.delivering
        recorder.file("b.txt", progress=100, status="completed")
        restart = threading.Timer(1.5, proxy.start)
        restart.start()
        final = recorder.complete("All done")
        restart.join()
        recorder.stop()
    finally:
        proxy.stop()
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
    stored = services.get_progress(sid)
    assert final["status"] == stored["status"] == "completed"
    assert [(f["name"], f["progress"], f["status"]) for f in stored["files"]] == [
        ("a.txt", 100, "completed"),
        ("b.txt", 100, "completed"),
    ]
    assert stored["message"] == "All done"
