"""The status body's fast rendering path gives exactly what DRF's field-by-field path gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import get_type_hints
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from progress_tracking.body import body_data, plain_body
from progress_tracking.payload import FileEntry, StatusBody
from progress_tracking.serializers import FileEntrySerializer, ProgressStatusSerializer

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


class ThroughDRF(ProgressStatusSerializer):
    """A subclass may declare other fields, so it always renders through DRF's fields."""


def rendered(instance, *, drf_only):
    serializer_class = ThroughDRF if drf_only else ProgressStatusSerializer
    serializer = serializer_class(instance, context={"files_limit": 3})
    try:
        # Not sorted: the keys' order is part of the bytes the API sends.
        return "ok", json.dumps(serializer.data)
    except Exception as exc:  # both paths must fail alike on values DRF rejects
        return "error", type(exc).__name__


def stopped_clock():
    # Cheaper per example than freezegun, which makes the first example miss its deadline.
    moment = datetime(2026, 12, 1, 12, tzinfo=UTC)
    return mock.patch("django.utils.timezone.now", return_value=moment)


@given(instance=body)
def test_fast_path_matches_drf(instance):
    with stopped_clock():  # elapsed_seconds moves with the clock
        assert rendered(instance, drf_only=False) == rendered(instance, drf_only=True)


text = st.text(max_size=12)
count = st.integers(min_value=0, max_value=10**12)
number = st.one_of(count, st.floats(0, 100))
stored_file = st.fixed_dictionaries(
    {
        "name": text,
        "status": st.sampled_from(["pending", "processing", "completed", "error", "cancelled"]),
        "progress": number,
        "message": text,
        "error": st.none() | text,
    }
)
# Bodies as the services store them: every value of its JSON type.
stored_body = st.fixed_dictionaries(
    {
        "session_id": st.uuids().map(str),
        "status": st.sampled_from(["processing", "completed", "error", "cancelled"]),
        "progress": number,
        "message": text,
        "total_files": count,
        "processed_files": count,
        "current_file": st.none() | text,
        "last_updated": count,
        "error": st.none() | text,
        "failed_files": count,
        "files": st.lists(stored_file, max_size=5),
        "version": count,
        "object_id": st.none() | text,
        "started_at": st.none() | count,
        "finished_at": st.none() | count,
    }
)


@given(instance=stored_body)
def test_stored_bodies_take_the_fast_path_with_drfs_result(instance):
    with stopped_clock():
        fast = rendered(instance, drf_only=False)
        assert fast == rendered(instance, drf_only=True)
    assert fast[0] == "ok"
    assert plain_body(body_data(instance, 3, now=0)) is not None  # rendered without DRF


def test_the_serializers_declare_the_typed_body_in_its_order():
    # The OpenAPI schema and DRF's rendering come from these fields; the body from the TypedDict.
    assert list(ProgressStatusSerializer().fields) == list(get_type_hints(StatusBody))
    assert list(FileEntrySerializer().fields) == list(get_type_hints(FileEntry))


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


def test_a_subclass_renders_through_drf(monkeypatch):
    calls = []
    original = serializers.Serializer.to_representation

    def spy(self, data):
        calls.append(1)
        return original(self, data)

    monkeypatch.setattr(serializers.Serializer, "to_representation", spy)
    stored = {"session_id": "00000000-0000-4000-8000-000000000000", "status": "processing"}
    assert ThroughDRF(stored).data["files"] == []
    assert calls, "a subclass of the serializer skipped DRF's fields"


BODY = {
    "session_id": "s",
    "status": "processing",
    "progress": 1,
    "message": "",
    "total_files": 1,
    "processed_files": 0,
    "current_file": None,
    "last_updated": 1,
    "error": None,
    "failed_files": 0,
    "files": [{"name": "a", "status": "pending", "progress": 0, "message": "", "error": None}],
    "files_total": 1,
    "file_list": ["a"],
    "started_at": 1,
    "finished_at": None,
    "version": 1,
    "object_id": "7",
    "elapsed_seconds": 0.0,
    "eta_seconds": None,
}


def test_a_plain_body_is_its_own_json():
    assert plain_body(BODY) == BODY
    assert list(plain_body(BODY)) == list(get_type_hints(StatusBody))


@pytest.mark.parametrize(
    "change",
    [
        {"total_files": True},  # DRF renders a bool in an IntegerField as 1
        {"progress": "5"},
        {"status": None},  # null only where the body allows it
        {"file_list": ["a", 1]},
        {"files": [{"name": "a"}]},  # an entry without its keys
        {"files": ("a",)},
        {"session_id": type("Text", (str,), {})("s")},  # a str subclass is not plain
    ],
    ids=str,
)
def test_anything_not_plain_is_left_to_drf(change):
    assert plain_body({**BODY, **change}) is None


def test_a_body_without_a_key_is_left_to_drf():
    incomplete = dict(BODY)
    del incomplete["version"]
    assert plain_body(incomplete) is None
