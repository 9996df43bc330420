"""A stale session stays dead for writers as it is for readers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from progress_tracking import services
from progress_tracking.exceptions import SessionNotFound, SessionStale
from progress_tracking.models import get_progress_model
from progress_tracking.recorder import ProgressRecorder

TICK = timedelta(microseconds=1)
FIVE_MINUTES = timedelta(seconds=300)

WRITES = {
    "update_progress": lambda s: services.update_progress(s, progress=50),
    "update_file_progress": lambda s: services.update_file_progress(s, "a.txt", progress=50),
    "heartbeat": services.heartbeat,
    "mark_session_complete": lambda s: services.mark_session_complete(s),
    "mark_session_error": lambda s: services.mark_session_error(s, "late"),
}


@pytest.fixture
def frozen():
    with freeze_time("2026-01-01 12:00:00") as clock:
        yield clock


def stored_version(session_id):
    row = get_progress_model()._base_manager.get(progress_session_id=session_id)
    return row.meta["processing_progress"]["version"], row.progress_updated_at


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_to_a_stale_session_raises_and_does_not_revive_it(knowledge, frozen, write):
    sid = services.start_session(knowledge)
    frozen.tick(FIVE_MINUTES + TICK)
    assert services.get_progress(sid) is None  # readers: gone
    before = stored_version(sid)
    with pytest.raises(SessionStale, match="stale") as raised:
        WRITES[write](sid)
    assert isinstance(raised.value, SessionNotFound)  # callers catching that still work
    assert stored_version(sid) == before
    assert services.get_progress(sid) is None


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_at_exactly_stale_after_still_lands(knowledge, frozen, write):
    sid = services.start_session(knowledge)
    frozen.tick(FIVE_MINUTES)
    WRITES[write](sid)
    assert services.get_progress(sid) is not None


def test_a_finished_session_past_its_ttl_is_stale_for_writers_too(knowledge, frozen):
    sid = services.start_session(knowledge)
    services.mark_session_complete(sid)
    frozen.tick(timedelta(seconds=299))
    assert services.mark_session_error(sid, "straggler")["status"] == "completed"  # no-op
    frozen.tick(timedelta(seconds=2))
    with pytest.raises(SessionStale):
        services.mark_session_error(sid, "straggler")


def test_the_recorder_raises_it_to_the_job(knowledge, frozen):
    sid = services.start_session(knowledge, files=["a.txt"])
    recorder = ProgressRecorder(sid, min_interval=0)
    recorder.file("a.txt", progress=10)
    frozen.tick(FIVE_MINUTES + TICK)
    with pytest.raises(SessionStale):
        recorder.file("a.txt", progress=20)
    assert not recorder.pending  # not retried: it can never succeed


def test_leaving_the_block_of_a_stale_session_keeps_the_jobs_exception(knowledge, frozen):
    sid = services.start_session(knowledge)
    with pytest.raises(KeyError), ProgressRecorder(sid, heartbeat_interval=600):
        frozen.tick(FIVE_MINUTES + TICK)
        raise KeyError("job failed late")
