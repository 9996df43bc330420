"""Property tests: random input never breaks the stored progress's invariants."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from progress_tracking import services, state
from progress_tracking.exceptions import InvalidProgressData

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
)
names = st.sampled_from(["a.txt", "b.pdf", "c.wav", "d.md"])
file_updates = st.lists(
    st.tuples(
        names,
        st.floats(min_value=0, max_value=100),
        st.sampled_from(["pending", "processing", "completed", "error"]),
    ),
    max_size=25,
)


def fresh(total=4, files=("a.txt", "b.pdf")):
    return state.new_progress(
        "00000000-0000-4000-8000-000000000000",
        object_id="1",
        total_files=total,
        files=files,
        message="",
        now=1_000,
    )


def assert_invariants(progress):
    assert 0 <= progress["progress"] <= 100
    assert 0 <= progress["processed_files"] <= progress["total_files"]
    files = progress["files"]
    if files:
        finished = [f for f in files if f["status"] in {"completed", "error"}]
        assert progress["processed_files"] == len(finished)
        assert progress["failed_files"] == sum(f["status"] == "error" for f in finished)
        all_done = len(finished) == progress["total_files"]
        assert (progress["progress"] == 100) == all_done
    assert progress["error"] is None


@given(progress=anything, message=anything, total=anything, processed=anything)
def test_update_either_raises_cleanly_or_keeps_invariants(progress, message, total, processed):
    before = fresh(files=())
    snapshot = copy.deepcopy(before)
    fields = {"total_files": total, "processed_files": processed}
    try:
        state.check_update_args(progress, message, fields)
        after = state.apply_update(before, progress=progress, message=message, fields=fields, now=2)
    except InvalidProgressData:
        assert before == snapshot
        return
    assert before == snapshot, "the input dict is never modified"
    assert_invariants(after)
    assert after["version"] == before["version"] + 1


@given(updates=file_updates)
def test_any_sequence_of_file_updates_keeps_counts_right(updates):
    progress = fresh()
    finished = {}
    for name, value, status in updates:
        new = state.apply_file_update(
            progress, name, progress=value, status=status, message=None, error="x", now=5
        )
        if name in finished:
            assert new is None, "a finished file is final"
            continue
        assert new is not None
        progress = new
        if status in {"completed", "error"}:
            finished[name] = status
        assert_invariants(progress)
    for name, status in finished.items():
        entry = next(f for f in progress["files"] if f["name"] == name)
        assert entry["status"] == status


@pytest.mark.django_db
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(progress=anything, message=anything, total=anything, processed=anything)
def test_services_reject_bad_input_without_touching_the_row(
    make_knowledge, progress, message, total, processed
):
    knowledge = make_knowledge(meta={"host": "kept"})
    sid = services.start_session(knowledge, total_files=3)
    knowledge.refresh_from_db()
    before = copy.deepcopy(knowledge.meta)
    try:
        result = services.update_progress(
            sid, progress=progress, message=message, total_files=total, processed_files=processed
        )
    except InvalidProgressData:
        knowledge.refresh_from_db()
        assert knowledge.meta == before
        return
    assert_invariants(result)
    knowledge.refresh_from_db()
    assert knowledge.meta["host"] == "kept"
