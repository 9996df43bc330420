"""Stale rules: STALE_AFTER for processing sessions, FINISHED_TTL for finished ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from freezegun import freeze_time

from progress_tracking import services

START = "2026-01-01 12:00:00"
TICK = timedelta(microseconds=1)


@pytest.fixture
def frozen():
    with freeze_time(START) as clock:
        yield clock


def test_processing_session_is_stale_strictly_after_stale_after(knowledge, frozen):
    sid = services.start_session(knowledge)
    frozen.tick(timedelta(seconds=300))
    assert services.get_progress(sid) is not None  # exactly the period: still alive
    frozen.tick(TICK)
    assert services.get_progress(sid) is None


def test_any_write_keeps_a_session_alive(knowledge, frozen):
    sid = services.start_session(knowledge)
    frozen.tick(timedelta(seconds=299))
    services.update_progress(sid, progress=10)
    frozen.tick(timedelta(seconds=299))
    services.heartbeat(sid)
    frozen.tick(timedelta(seconds=300))
    assert services.get_progress(sid)["progress"] == 10


def test_finished_sessions_use_their_own_period(knowledge, frozen):
    with override_settings(PROGRESS_TRACKING={"STALE_AFTER": 300, "FINISHED_TTL": 60}):
        sid = services.start_session(knowledge)
        frozen.tick(timedelta(seconds=200))
        services.mark_session_complete(sid)
        frozen.tick(timedelta(seconds=60))
        assert services.get_progress(sid)["status"] == "completed"
        frozen.tick(TICK)
        assert services.get_progress(sid) is None


def test_finished_ttl_can_be_longer_than_stale_after(knowledge, frozen):
    with override_settings(
        PROGRESS_TRACKING={"STALE_AFTER": 60, "FINISHED_TTL": timedelta(hours=1)}
    ):
        sid = services.start_session(knowledge)
        services.mark_session_error(sid, "boom")
        frozen.tick(timedelta(minutes=59))
        assert services.get_progress(sid)["error"] == "boom"
        frozen.tick(timedelta(minutes=1) + TICK)
        assert services.get_progress(sid) is None


def test_default_periods_are_five_minutes(knowledge, frozen):
    sid = services.start_session(knowledge)
    services.mark_session_complete(sid)
    frozen.tick(timedelta(minutes=5))
    assert services.get_progress(sid) is not None
    frozen.tick(TICK)
    assert services.get_progress(sid) is None


def test_a_stale_session_no_longer_blocks_a_new_one(knowledge, frozen):
    old = services.start_session(knowledge)
    frozen.tick(timedelta(seconds=301))
    new = services.start_session(knowledge)  # no SessionActive: the old worker is gone
    assert new != old
    assert services.get_progress(new)["status"] == "processing"


def test_cleanup_removes_exactly_what_get_progress_hides(make_knowledge, frozen):
    alive, dead, done = (make_knowledge() for _ in range(3))
    dead_sid = services.start_session(dead)
    done_sid = services.start_session(done)
    services.mark_session_complete(done_sid)
    frozen.tick(timedelta(seconds=200))
    alive_sid = services.start_session(alive)
    frozen.tick(timedelta(seconds=100) + TICK)
    assert services.cleanup_stale_progress(dry_run=True) == 2
    assert services.cleanup_stale_progress() == 2
    assert services.get_progress(alive_sid) is not None
    for sid in (dead_sid, done_sid):
        assert services.get_progress(sid) is None
        assert services.clear_progress(sid) is False
