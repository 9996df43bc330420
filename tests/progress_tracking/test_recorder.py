"""ProgressRecorder: coalescing, immediate status changes, failure capture, heartbeat."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from progress_tracking import services, signals
from progress_tracking.exceptions import InvalidProgressData
from progress_tracking.models import get_progress_model
from progress_tracking.recorder import ProgressRecorder
from tests.conftest import WRITE_ALIAS


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def writes(monkeypatch):
    """Count the service writes the recorder makes."""
    counted = []
    for name in ("update_file_progress", "update_progress", "heartbeat"):
        original = getattr(services, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            counted.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(services, name, wrapper)
    return counted


@pytest.fixture
def session(knowledge):
    return services.start_session(knowledge, files=["a.txt", "b.txt"])


def test_a_tight_loop_is_coalesced_and_the_newest_value_wins(session, writes):
    clock = FakeClock()
    recorder = ProgressRecorder(session, min_interval=0.5, clock=clock)
    for step in range(1, 1001):
        recorder.file("a.txt", progress=step / 10, message=f"step {step}")
    assert writes == ["update_file_progress"]  # first report (a status change) only
    clock.now += 0.5
    recorder.file("a.txt", progress=99.5)
    assert len(writes) == 2
    assert services.get_progress(session)["files"][0]["progress"] == 99.5


def test_pending_values_are_written_by_flush(session, writes):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock)
    recorder.file("a.txt", progress=1)
    recorder.file("a.txt", progress=2)
    recorder.update(message="Reading")
    assert services.get_progress(session)["files"][0]["progress"] == 1
    recorder.flush()
    progress = services.get_progress(session)
    assert progress["files"][0]["progress"] == 2 and progress["message"] == "Reading"


def test_status_changes_and_final_updates_are_written_at_once(session, writes):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock)
    recorder.file("a.txt", progress=10)
    recorder.file("a.txt", progress=100, status="completed")
    recorder.file("b.txt", progress=0, status="error", error="corrupt")
    assert len(writes) == 3
    done = recorder.complete()
    assert done["status"] == "completed" and done["failed_files"] == 1


def test_complete_writes_what_was_pending_first(session):
    clock = FakeClock()
    recorder = ProgressRecorder(session, clock=clock)
    recorder.file("a.txt", progress=100, status="completed")
    recorder.file("b.txt", progress=10)
    recorder.file("b.txt", progress=100, status="completed")
    assert recorder.complete("Done")["processed_files"] == 2


def test_bad_values_raise_at_once_even_when_coalesced(session):
    recorder = ProgressRecorder(session, clock=FakeClock())
    recorder.file("a.txt", progress=1)
    with pytest.raises(InvalidProgressData):
        recorder.file("a.txt", progress=101)
    with pytest.raises(InvalidProgressData):
        recorder.update(progress=-1)
    with pytest.raises(InvalidProgressData):
        recorder.update(colour="red")


def test_an_exception_in_the_block_marks_the_session_failed(session):
    with (
        pytest.raises(ValueError, match="bad chunk"),
        ProgressRecorder(session, heartbeat_interval=60),
    ):
        raise ValueError("bad chunk")
    progress = services.get_progress(session)
    assert progress["status"] == "error" and progress["error"] == "bad chunk"


def test_leaving_the_block_normally_flushes_but_does_not_complete(session):
    with ProgressRecorder(session, heartbeat_interval=60, clock=FakeClock()) as recorder:
        recorder.file("a.txt", progress=1)
        recorder.file("a.txt", progress=5)
    progress = services.get_progress(session)
    assert progress["status"] == "processing" and progress["files"][0]["progress"] == 5


@pytest.mark.django_db(transaction=True)
def test_heartbeat_refreshes_an_idle_session_and_stops_with_the_recorder(make_knowledge):
    sid = services.start_session(make_knowledge())
    version = services.get_progress(sid)["version"]
    recorder = ProgressRecorder(sid, heartbeat_interval=0.05).start()
    deadline = time.monotonic() + 10
    while services.get_progress(sid)["version"] < version + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    recorder.stop()
    beaten = services.get_progress(sid)["version"]
    assert beaten >= version + 2
    assert not any(t.name.startswith("progress-heartbeat") for t in threading.enumerate())
    time.sleep(0.2)
    assert services.get_progress(sid)["version"] == beaten  # no heartbeat after stop


@pytest.mark.django_db(transaction=True)
def test_heartbeat_does_nothing_once_the_session_is_finished(make_knowledge, writes):
    sid = services.start_session(make_knowledge())
    with ProgressRecorder(sid, heartbeat_interval=0.02) as recorder:
        recorder.complete()
        time.sleep(0.15)
    assert "heartbeat" not in writes


@pytest.mark.django_db(transaction=True, databases=["default", WRITE_ALIAS])
def test_the_heartbeat_closes_the_connection_its_writes_used_and_no_other(
    make_knowledge, write_alias, monkeypatch
):
    """Writes go to ``router.db_for_write(model)``: that connection is the heartbeat thread's
    to close when it ends; one that something else opened in the thread is not."""
    alias = write_alias(get_progress_model())
    sid = services.start_session(make_knowledge())
    seen, closed = {}, []
    backend = type(connections["default"])
    real_close = backend.close

    def close(self):
        if threading.current_thread().name.startswith("progress-heartbeat"):
            closed.append(self.alias)
        real_close(self)

    def in_heartbeat_thread(sender, session_id, **kwargs):
        if threading.current_thread().name.startswith("progress-heartbeat") and not seen:
            connections["default"].ensure_connection()  # a receiver's own connection
            seen.update(written=connections[alias], other=connections["default"])

    monkeypatch.setattr(backend, "close", close)
    signals.progress_updated.connect(in_heartbeat_thread)
    try:
        recorder = ProgressRecorder(sid, heartbeat_interval=0.02).start()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        recorder.stop()
    finally:
        signals.progress_updated.disconnect(in_heartbeat_thread)
    assert seen, "no heartbeat was written"
    assert closed == [alias]
    if seen["written"].vendor == "postgresql":  # SQLite ignores closing an in-memory database
        assert seen["written"].connection is None
    assert seen["other"].connection is not None  # still open: not the recorder's
    seen["other"].inc_thread_sharing()  # the thread is gone: close it from here
    seen["other"].close()
