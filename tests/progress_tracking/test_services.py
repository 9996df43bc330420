"""The public services: rules every write obeys (design.md, "Pinned details")."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from progress_tracking import services, signals
from progress_tracking.exceptions import (
    InvalidProgressData,
    ProgressError,
    SessionActive,
    SessionNotFound,
)
from progress_tracking.models import PROGRESS_KEY, get_progress_model

SEED_KEYS = {
    "session_id",
    "status",
    "total_files",
    "processed_files",
    "current_file",
    "progress",
    "message",
    "last_updated",
    "error",
}


def stored(knowledge):
    knowledge.refresh_from_db()
    return knowledge.meta


def raw_meta_text(knowledge):
    table = knowledge._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT meta FROM {table} WHERE id = %s", [knowledge.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def session(knowledge):
    return services.start_session(knowledge, total_files=2, message="Starting")


def test_start_session_stores_the_seed_schema_and_keeps_host_keys(make_knowledge):
    knowledge = make_knowledge(meta={"source": "upload", "tags": ["a"]})
    sid = services.start_session(knowledge, total_files=3, message="Queued")
    assert uuid.UUID(sid).version == 4
    meta = stored(knowledge)
    assert meta["source"] == "upload" and meta["tags"] == ["a"]
    progress = meta[PROGRESS_KEY]
    assert set(progress) >= SEED_KEYS
    assert progress["session_id"] == sid
    assert progress["status"] == "processing"
    assert progress["total_files"] == 3 and progress["processed_files"] == 0
    assert progress["progress"] == 0 and progress["message"] == "Queued"
    assert progress["error"] is None
    assert isinstance(progress["last_updated"], int)
    assert knowledge.progress_session_id == uuid.UUID(sid)
    assert knowledge.progress_status == "processing"
    # The instance passed in reflects what was stored.
    assert knowledge.meta[PROGRESS_KEY] == progress


def test_saving_the_instance_after_start_session_keeps_the_session(knowledge):
    sid = services.start_session(knowledge)
    knowledge.save()
    assert services.get_progress(sid)["session_id"] == sid
    assert knowledge.progress_status == "processing" and knowledge.progress_updated_at


def test_every_writer_accepts_str_and_uuid(knowledge):
    sid = services.start_session(knowledge, total_files=4)
    assert services.update_progress(uuid.UUID(sid), progress=10)["progress"] == 10
    assert services.update_progress(sid, progress=20)["progress"] == 20
    assert services.get_progress(uuid.UUID(sid))["progress"] == 20


@pytest.mark.parametrize(
    "call",
    [
        lambda sid: services.update_progress(sid, progress=1),
        lambda sid: services.update_file_progress(sid, "a", progress=1),
        lambda sid: services.mark_session_complete(sid),
        lambda sid: services.mark_session_error(sid, "x"),
        lambda sid: services.heartbeat(sid),
    ],
)
@pytest.mark.parametrize("sid", [str(uuid.uuid4()), uuid.uuid4(), "not-a-uuid", "", None, 42])
def test_unknown_or_malformed_ids_raise_session_not_found(db, call, sid):
    with pytest.raises(SessionNotFound) as info:
        call(sid)
    assert isinstance(info.value, LookupError) and isinstance(info.value, ProgressError)


@pytest.mark.parametrize("sid", [str(uuid.uuid4()), "nope", "", None])
def test_get_progress_is_none_for_unknown_ids_and_clear_is_false(db, sid):
    assert services.get_progress(sid) is None
    assert services.clear_progress(sid) is False


def test_returned_dicts_are_copies(session):
    first = services.get_progress(session)
    first["progress"] = 99
    first.setdefault("files", []).append({"name": "x"})
    assert services.get_progress(session)["progress"] == 0
    returned = services.update_progress(session, progress=5)
    returned["status"] = "completed"
    assert services.get_progress(session)["status"] == "processing"


def test_update_progress_accepts_only_the_documented_fields(session):
    result = services.update_progress(
        session,
        progress=50,
        message="Half",
        total_files=4,
        processed_files=2,
        current_file="b.pdf",
        status="processing",
    )
    assert (result["progress"], result["message"], result["total_files"]) == (50, "Half", 4)
    assert (result["processed_files"], result["current_file"]) == (2, "b.pdf")
    with pytest.raises(InvalidProgressData, match="unexpected field"):
        services.update_progress(session, eta=3)
    with pytest.raises(InvalidProgressData, match="mark_session_complete"):
        services.update_progress(session, status="completed")
    with pytest.raises(InvalidProgressData, match="mark_session_error"):
        services.update_progress(session, status="error")
    with pytest.raises(InvalidProgressData):
        services.update_progress(session, status="paused")


BAD_UPDATES = [
    {"progress": -0.1},
    {"progress": 100.01},
    {"progress": float("nan")},
    {"progress": float("inf")},
    {"progress": True},
    {"progress": "50"},
    {"progress": [50]},
    {"total_files": -1},
    {"total_files": 1.5},
    {"processed_files": -3},
    {"processed_files": False},
    {"processed_files": 3},  # more than total_files=2
    {"message": "x" * 1001},
    {"message": "m" * 5_000_000},
    {"message": 12},
    {"current_file": ""},
    {"current_file": 7},
]


@pytest.mark.parametrize("kwargs", BAD_UPDATES, ids=lambda kw: repr(kw)[:40])
def test_bad_values_raise_and_leave_stored_bytes_unchanged(knowledge, session, kwargs):
    before = raw_meta_text(knowledge)
    with pytest.raises(InvalidProgressData):
        services.update_progress(session, **kwargs)
    assert raw_meta_text(knowledge) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"progress": 101},
        {"progress": None},
        {"progress": 50, "status": "done"},
        {"progress": 50, "message": "y" * 1001},
    ],
)
def test_bad_file_values_raise_and_change_nothing(knowledge, session, kwargs):
    before = raw_meta_text(knowledge)
    with pytest.raises(InvalidProgressData):
        services.update_file_progress(session, "a.txt", **kwargs)
    with pytest.raises(InvalidProgressData):
        services.update_file_progress(session, "", progress=1)
    assert raw_meta_text(knowledge) == before


def test_message_of_exactly_1000_characters_is_accepted(session):
    assert len(services.update_progress(session, message="m" * 1000)["message"]) == 1000


@pytest.mark.parametrize("meta", [[1, 2], "text", 5])
def test_non_dict_meta_raises_and_is_not_touched(make_knowledge, meta):
    knowledge = make_knowledge()
    get_progress_model().objects.filter(pk=knowledge.pk).update(meta=meta)
    before = raw_meta_text(knowledge)
    with pytest.raises(InvalidProgressData, match="not a dict"):
        services.start_session(knowledge)
    assert raw_meta_text(knowledge) == before


def test_start_session_validates_before_touching_the_row(knowledge):
    before = raw_meta_text(knowledge)
    for bad in (
        {"total_files": -1},
        {"message": "x" * 1001},
        {"files": "a.txt"},
        {"files": ["ok", ""]},
        {"total_files": True},
    ):
        with pytest.raises(InvalidProgressData):
            services.start_session(knowledge, **bad)
    assert raw_meta_text(knowledge) == before


def test_start_session_needs_a_saved_row(db):
    with pytest.raises(InvalidProgressData):
        services.start_session(get_progress_model()())
    with pytest.raises(InvalidProgressData):
        services.start_session("not a model")


def test_final_states_are_final_and_first_final_call_wins(knowledge, session):
    done = services.mark_session_complete(session, "All done")
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["message"] == "All done" and done["error"] is None
    before = raw_meta_text(knowledge)
    assert services.update_progress(session, progress=10, message="late") == done
    assert services.update_file_progress(session, "late.txt", progress=3) == done
    assert services.mark_session_error(session, "too late") == done
    assert services.mark_session_complete(session, "again") == done
    assert services.heartbeat(session) == done
    assert raw_meta_text(knowledge) == before


def test_error_is_final_too(knowledge):
    sid = services.start_session(knowledge)
    failed = services.mark_session_error(sid, RuntimeError("disk full"))
    assert failed["status"] == "error" and failed["error"] == "disk full"
    assert services.mark_session_complete(sid) == failed
    assert services.update_progress(sid, progress=50) == failed


def test_mark_session_error_truncates_instead_of_raising(session):
    result = services.mark_session_error(session, "E" * 2_000_000)
    assert result["status"] == "error"
    assert len(result["error"]) == 1000 and result["error"].endswith("…")
    assert services.get_progress(session)["error"] == result["error"]


def test_mark_session_error_with_empty_text_still_says_something(knowledge):
    sid = services.start_session(knowledge)
    assert services.mark_session_error(sid, "")["error"] == "Unknown error"


def test_zero_files_batch_has_no_division_by_zero(knowledge):
    sid = services.start_session(knowledge, total_files=0)
    progress = services.get_progress(sid)
    assert progress["progress"] == 0 and progress["total_files"] == 0
    done = services.mark_session_complete(sid)
    assert done["progress"] == 100 and done["processed_files"] == 0


def test_per_file_progress_counts_each_file_once(knowledge):
    sid = services.start_session(knowledge, files=["a.txt", "b.pdf", "c.wav"])
    result = services.update_file_progress(sid, "a.txt", progress=50, message="Chunk 1")
    assert result["progress"] == pytest.approx(50 / 3, abs=0.1)
    assert result["current_file"] == "a.txt" and result["message"] == "Chunk 1"
    services.update_file_progress(sid, "a.txt", progress=100, status="completed")
    again = services.update_file_progress(sid, "a.txt", progress=100, status="completed")
    assert again["processed_files"] == 1
    # A finished file cannot be revived by a straggler.
    assert services.update_file_progress(sid, "a.txt", progress=10)["files"][0]["status"] == (
        "completed"
    )
    names = [f["name"] for f in again["files"]]
    assert names == ["a.txt", "b.pdf", "c.wav"]
    entry = again["files"][0]
    assert set(entry) == {"name", "status", "progress", "message", "error"}


def test_some_files_fail_and_progress_reaches_100_only_when_all_finished(knowledge):
    sid = services.start_session(knowledge, files=["a", "b", "c"])
    services.update_file_progress(sid, "a", progress=100, status="completed")
    services.update_file_progress(sid, "b", progress=40, status="error", error="corrupt PDF")
    almost = services.update_file_progress(sid, "c", progress=100)  # still processing
    assert almost["progress"] < 100
    with pytest.raises(InvalidProgressData, match="unfinished"):
        services.mark_session_complete(sid)
    with pytest.raises(InvalidProgressData, match="unfinished"):
        services.update_progress(sid, progress=100)
    services.update_file_progress(sid, "c", progress=100, status="completed")
    done = services.mark_session_complete(sid)
    assert done["progress"] == 100 and done["processed_files"] == 3
    assert done["failed_files"] == 1
    failed = [f for f in done["files"] if f["status"] == "error"]
    assert failed == [
        {"name": "b", "status": "error", "progress": 40, "message": "", "error": "corrupt PDF"}
    ]
    assert "1 of 3 files failed" in done["message"]


def test_files_not_yet_reported_count_as_unfinished(knowledge):
    sid = services.start_session(knowledge, total_files=3)
    services.update_file_progress(sid, "a", progress=100, status="completed")
    with pytest.raises(InvalidProgressData):
        services.mark_session_complete(sid)
    with pytest.raises(InvalidProgressData, match="processed_files is counted"):
        services.update_progress(sid, processed_files=1)
    with pytest.raises(InvalidProgressData, match="less than"):
        services.update_progress(sid, total_files=0)


def test_new_file_names_grow_total_files(knowledge):
    sid = services.start_session(knowledge, total_files=1)
    services.update_file_progress(sid, "a", progress=1)
    result = services.update_file_progress(sid, "b", progress=1)
    assert result["total_files"] == 2 and len(result["files"]) == 2


def test_long_file_error_is_truncated(knowledge):
    sid = services.start_session(knowledge, files=["a"])
    result = services.update_file_progress(sid, "a", progress=0, status="error", error="x" * 5000)
    assert len(result["files"][0]["error"]) == 1000


def test_start_session_on_active_row_raises_or_joins(knowledge):
    sid = services.start_session(knowledge, files=["a", "b"])
    with pytest.raises(SessionActive) as info:
        services.start_session(knowledge, files=["c"])
    assert info.value.session_id == sid
    joined = services.start_session(knowledge, files=["b", "c"], join_active=True)
    assert joined == sid
    progress = services.get_progress(sid)
    assert [f["name"] for f in progress["files"]] == ["a", "b", "c"]
    assert progress["total_files"] == 3


def test_start_session_after_a_finished_session_starts_a_new_one(knowledge):
    first = services.start_session(knowledge)
    services.mark_session_complete(first)
    second = services.start_session(knowledge, join_active=True)
    assert second != first
    assert services.get_progress(first) is None
    assert services.get_progress(second)["status"] == "processing"


def test_clear_progress_removes_only_the_progress_key(make_knowledge):
    knowledge = make_knowledge(meta={"keep": {"nested": True}})
    sid = services.start_session(knowledge)
    assert services.clear_progress(sid) is True
    knowledge.refresh_from_db()
    assert knowledge.meta == {"keep": {"nested": True}}
    assert knowledge.progress_session_id is None and knowledge.progress_status == ""
    assert services.clear_progress(sid) is False
    with pytest.raises(SessionNotFound):
        services.update_progress(sid, progress=1)


def test_signals_are_sent_after_commit(knowledge, django_capture_on_commit_callbacks):
    received = []

    def handler(signal, sender, session_id, progress, **kwargs):
        received.append((signal, session_id, progress["status"]))

    for sig in (
        signals.progress_started,
        signals.progress_updated,
        signals.progress_completed,
        signals.progress_failed,
    ):
        sig.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            sid = services.start_session(knowledge, files=["a"])
        assert received == [] and len(callbacks) == 1
        callbacks[0]()
        with django_capture_on_commit_callbacks(execute=True):
            services.update_file_progress(sid, "a", progress=100, status="completed")
            services.mark_session_complete(sid)
            services.mark_session_error(sid, "ignored: already final")
        other = services.start_session(knowledge)
        with django_capture_on_commit_callbacks(execute=True):
            services.mark_session_error(other, "boom")
    finally:
        for sig in (
            signals.progress_started,
            signals.progress_updated,
            signals.progress_completed,
            signals.progress_failed,
        ):
            sig.disconnect(handler)
    kinds = [(s, status) for s, _, status in received]
    assert kinds == [
        (signals.progress_started, "processing"),
        (signals.progress_updated, "processing"),
        (signals.progress_completed, "completed"),
        (signals.progress_failed, "error"),
    ]


def test_version_increases_with_every_change(session):
    v1 = services.get_progress(session)["version"]
    v2 = services.update_progress(session, message="a")["version"]
    v3 = services.heartbeat(session)["version"]
    assert v1 < v2 < v3


def test_start_session_takes_the_instance_first_and_knowledge_is_deprecated(knowledge):
    with pytest.warns(DeprecationWarning, match=r"start_session\(instance"):
        sid = services.start_session(knowledge=knowledge, total_files=1)
    assert services.get_progress(sid)["object_id"] == str(knowledge.pk)
    with pytest.raises(TypeError, match="both instance and knowledge"):
        services.start_session(knowledge, knowledge=knowledge)
    with pytest.raises(InvalidProgressData):
        services.start_session()
