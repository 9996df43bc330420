"""Honest bars: a session's overall progress never goes back while it runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from progress_tracking import services, state
from progress_tracking.exceptions import InvalidProgressData


@pytest.fixture
def session(knowledge):
    return services.start_session(knowledge, files=["a.wav", "b.pdf"])


def test_files_joining_a_running_session_hold_the_bar_until_the_work_catches_up(session, knowledge):
    services.update_file_progress(session, "a.wav", progress=100, status="completed")
    assert services.get_progress(session)["progress"] == 50
    joined = services.start_session(knowledge, files=["c.txt", "d.txt"], join_active=True)
    assert joined == session
    after = services.get_progress(session)
    # 1 of 4 files is 25 %: the stored value holds at 50; the counts are the true ones.
    assert after["progress"] == 50
    assert (after["processed_files"], after["total_files"]) == (1, 4)
    services.update_file_progress(session, "b.pdf", progress=100, status="completed")
    assert services.get_progress(session)["progress"] == 50  # 2 of 4: still 50
    services.update_file_progress(session, "c.txt", progress=60)
    assert services.get_progress(session)["progress"] == 65  # (100+100+60)/4: moves on


def test_a_retried_file_restarts_its_own_progress_but_not_the_sessions(session):
    services.update_file_progress(session, "a.wav", progress=80)
    assert services.get_progress(session)["progress"] == 40
    retried = services.update_file_progress(session, "a.wav", progress=5, message="Retrying")
    entry = next(f for f in retried["files"] if f["name"] == "a.wav")
    assert entry["progress"] == 5
    assert retried["progress"] == 40
    services.update_file_progress(session, "a.wav", progress=90)
    assert services.get_progress(session)["progress"] == 45


def test_a_file_failing_part_way_never_lowers_the_bar(session):
    services.update_file_progress(session, "a.wav", progress=70)
    before = services.get_progress(session)["progress"]
    failed = services.update_file_progress(
        session, "a.wav", progress=10, status="error", error="unreadable"
    )
    assert failed["progress"] >= before
    assert failed["failed_files"] == 1
    assert next(f for f in failed["files"] if f["name"] == "a.wav")["progress"] == 10


def test_a_lower_overall_value_is_held(knowledge):
    sid = services.start_session(knowledge, total_files=3)
    services.update_progress(sid, progress=60)
    assert services.update_progress(sid, progress=30, message="Phase 2")["progress"] == 60
    assert services.get_progress(sid)["message"] == "Phase 2"
    assert services.update_progress(sid, progress=75)["progress"] == 75


def test_cancel_keeps_the_bar_where_it_stopped(session):
    services.update_file_progress(session, "a.wav", progress=30)
    assert services.request_cancel(session)["progress"] == 15


def test_refusals_still_apply(session):
    with pytest.raises(InvalidProgressData):
        services.update_progress(session, progress=100)
    assert services.get_progress(session)["progress"] == 0


NAMES = ["a", "b", "c", "d"]
steps = st.one_of(
    st.tuples(
        st.just("file"),
        st.sampled_from(NAMES),
        st.floats(0, 100),
        st.sampled_from(["pending", "processing", "completed", "error"]),
    ),
    st.tuples(st.just("join"), st.lists(st.sampled_from(NAMES), max_size=3)),
    st.tuples(st.just("overall"), st.floats(0, 99.9)),
)


@settings(max_examples=300, deadline=None)
@given(
    first=st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True),
    ops=st.lists(steps, max_size=30),
)
def test_overall_progress_never_decreases_whatever_happens(first, ops):
    current = state.new_progress("s", object_id="1", total_files=1, files=first, message="", now=0)
    shown = [current["progress"]]
    for now, op in enumerate(ops, start=1):
        if op[0] == "file":
            _, name, value, status = op
            new = state.apply_file_update(
                current, name, progress=value, status=status, message=None, error="x", now=now
            )
            current = new or current
        elif op[0] == "join":
            current = state.apply_join(current, op[1], now=now)
        else:
            current = state.apply_update(current, progress=op[1], message=None, fields={}, now=now)
        shown.append(current["progress"])
        assert 0 <= current["progress"] <= 100
    assert shown == sorted(shown)
