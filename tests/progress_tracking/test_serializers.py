"""The status body's fast rendering path gives exactly what DRF's field-by-field path gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from progress_tracking.serializers import ProgressStatusSerializer

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.uuids().map(str),
)
file_entry = st.dictionaries(
    st.sampled_from(["name", "status", "progress", "message", "error", "extra"]), scalar
)
body = st.fixed_dictionaries(
    {},
    optional={
        "session_id": st.one_of(st.uuids().map(str), scalar),
        "status": st.sampled_from(["processing", "completed", "error"]),
        "progress": st.one_of(st.integers(0, 100), st.floats(0, 100), scalar),
        "message": scalar,
        "total_files": scalar,
        "processed_files": scalar,
        "current_file": scalar,
        "last_updated": scalar,
        "error": scalar,
        "failed_files": scalar,
        "files": st.one_of(st.lists(file_entry, max_size=4), scalar),
        "version": scalar,
        "object_id": scalar,
        "started_at": scalar,
        "finished_at": scalar,
    },
)


def rendered(instance, *, drf_only):
    serializer = ProgressStatusSerializer(instance, context={"files_limit": 3})
    if drf_only:
        serializer.fields  # noqa: B018 - binding the fields turns the fast path off
    try:
        return "ok", json.dumps(serializer.data, sort_keys=True)
    except Exception as exc:  # both paths must fail alike on values DRF rejects
        return "error", type(exc).__name__


@given(instance=body)
def test_fast_path_matches_drf(instance):
    assert rendered(instance, drf_only=False) == rendered(instance, drf_only=True)


def test_a_stored_body_takes_the_fast_path(monkeypatch):
    calls = []
    original = ProgressStatusSerializer.__mro__[1].to_representation

    def spy(self, data):
        calls.append(1)
        return original(self, data)

    monkeypatch.setattr(ProgressStatusSerializer.__mro__[1], "to_representation", spy)
    stored = {
        "session_id": "00000000-0000-4000-8000-000000000000",
        "status": "processing",
        "progress": 12.5,
        "message": "",
        "total_files": 1,
        "processed_files": 0,
        "current_file": None,
        "last_updated": 1,
        "error": None,
        "failed_files": 0,
        "files": [
            {"name": "a", "status": "processing", "progress": 1, "message": "", "error": None}
        ],
        "version": 2,
        "object_id": "7",
        "started_at": 1,
        "finished_at": None,
    }
    assert ProgressStatusSerializer(stored).data["progress"] == 12.5
    assert calls == [], "DRF's per-field path was used for a plain stored body"
