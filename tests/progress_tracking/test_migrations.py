"""Migration 0002 and ``backfill_progress_columns``: seed-format progress becomes findable."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from progress_tracking import services
from progress_tracking.backfill import backfill_progress_columns, normalise_seed_progress
from progress_tracking.models import PROGRESS_KEY, Knowledge, get_progress_model

BEFORE = [("progress_tracking", "0001_initial")]
AFTER = [("progress_tracking", "0002_index_seed_progress")]
EXTENSION_KEYS = {"files", "failed_files", "version", "started_at", "finished_at", "object_id"}


def seed_progress(session_id=None, status="processing", last_updated=None, **extra):
    """A progress dict exactly as the seed's services wrote it."""
    return {
        "session_id": str(session_id or uuid.uuid4()),
        "status": status,
        "total_files": 2,
        "processed_files": 1,
        "current_file": "a.txt",
        "progress": 50,
        "message": "Half way",
        "last_updated": int(time.time()) - 10 if last_updated is None else last_updated,
        "error": None,
        **extra,
    }


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.skipif(
    bool(Knowledge._meta.swapped), reason="migration 0002 backfills progress_tracking.Knowledge"
)
@pytest.mark.django_db(transaction=True)
def test_migration_0002_indexes_rows_holding_seed_progress():
    valid_id, done_id = uuid.uuid4(), uuid.uuid4()
    try:
        old = migrate(BEFORE).get_model("progress_tracking", "Knowledge")
        assert "progress_tracking_knowledge" in connection.introspection.table_names()

        def row(meta):
            return old.objects.create(name="legacy", meta=meta).pk

        pks = {
            "valid": row({PROGRESS_KEY: seed_progress(valid_id)}),
            "bad_uuid": row({PROGRESS_KEY: seed_progress("not-a-uuid")}),
            "non_dict_meta": row([PROGRESS_KEY, 1]),
            "host_keys": row(
                {
                    "source": "upload",
                    "tags": ["a", "b"],
                    PROGRESS_KEY: seed_progress(done_id, status="completed", progress=100),
                }
            ),
            "duplicate": row({PROGRESS_KEY: seed_progress(valid_id), "dup": True}),
            "bad_status": row({PROGRESS_KEY: seed_progress(status="paused")}),
            "bad_time": row({PROGRESS_KEY: seed_progress(last_updated=10**20)}),
            "garbage": row({PROGRESS_KEY: "garbage"}),
            "none": row({"only": "host"}),
        }
        raw_before = {name: old.objects.get(pk=pk).meta for name, pk in pks.items()}

        migrate(AFTER)

        model = get_progress_model()
        rows = {name: model.objects.get(pk=pk) for name, pk in pks.items()}
        valid = rows["valid"]
        assert valid.progress_session_id == valid_id
        assert valid.progress_status == "processing"
        stamp = raw_before["valid"][PROGRESS_KEY]["last_updated"]
        assert valid.progress_updated_at == datetime.fromtimestamp(stamp, tz=UTC)
        stored = valid.meta[PROGRESS_KEY]
        assert {k: stored[k] for k in raw_before["valid"][PROGRESS_KEY]} == (
            raw_before["valid"][PROGRESS_KEY]
        )
        assert set(stored) >= EXTENSION_KEYS

        with_host = rows["host_keys"]
        assert with_host.progress_session_id == done_id
        assert with_host.progress_status == "completed"
        assert with_host.meta["source"] == "upload" and with_host.meta["tags"] == ["a", "b"]

        for name in (
            "bad_uuid",
            "non_dict_meta",
            "duplicate",
            "bad_status",
            "bad_time",
            "garbage",
            "none",
        ):
            assert rows[name].progress_session_id is None, name
            assert rows[name].progress_status == "", name
            assert rows[name].meta == raw_before[name], name

        # The indexed lookups now find the legacy sessions, and work on them goes on.
        found = services.get_progress(valid_id)
        assert found["message"] == "Half way" and found["progress"] == 50
        assert services.get_progress(str(done_id))["status"] == "completed"
        assert services.update_progress(valid_id, progress=75)["progress"] == 75
        assert services.mark_session_complete(valid_id)["status"] == "completed"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert (
        MigrationExecutor(connection).migration_plan(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
        == []
    )


@pytest.mark.skipif(
    bool(Knowledge._meta.swapped), reason="migration 0002 backfills progress_tracking.Knowledge"
)
@pytest.mark.django_db(transaction=True)
def test_migration_0002_reverses_and_reapplies():
    try:
        migrate(BEFORE)
        migrate(AFTER)
        migrate(BEFORE)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def legacy_row(make_knowledge, progress, **meta):
    """A row of the current model holding seed progress in meta only (no indexed columns)."""
    row = make_knowledge(meta={**meta, PROGRESS_KEY: progress})
    assert row.progress_session_id is None
    return row


def test_backfill_indexes_and_adds_the_extension_keys(make_knowledge):
    sid = uuid.uuid4()
    progress = seed_progress(str(sid).upper(), status="error", error="disk full")
    row = legacy_row(make_knowledge, progress, keep="me")
    assert backfill_progress_columns(get_progress_model()) == 1
    row.refresh_from_db()
    assert row.progress_session_id == sid and row.progress_status == "error"
    stored = row.meta[PROGRESS_KEY]
    assert stored["session_id"] == str(sid)  # canonical form
    assert stored["error"] == "disk full"
    assert stored["finished_at"] == stored["started_at"] == progress["last_updated"]
    assert (stored["files"], stored["failed_files"], stored["version"]) == ([], 0, 1)
    assert stored["object_id"] == str(row.pk)
    assert row.meta["keep"] == "me"
    assert services.get_progress(sid)["status"] == "error"


def test_backfill_is_idempotent(make_knowledge):
    rows = [legacy_row(make_knowledge, seed_progress()) for _ in range(3)]
    model = get_progress_model()
    assert backfill_progress_columns(model) == 3
    metas = [model.objects.get(pk=r.pk).meta for r in rows]
    assert backfill_progress_columns(model) == 0
    assert [model.objects.get(pk=r.pk).meta for r in rows] == metas


def test_backfill_skips_duplicate_session_ids(make_knowledge):
    sid = uuid.uuid4()
    first = legacy_row(make_knowledge, seed_progress(sid), n=1)
    second = legacy_row(make_knowledge, seed_progress(sid), n=2)
    indexed = make_knowledge()
    other = uuid.uuid4()
    services_row = legacy_row(make_knowledge, seed_progress(other), n=3)
    # ``other`` is already indexed on another row: the legacy copy must not steal it.
    get_progress_model().objects.filter(pk=indexed.pk).update(progress_session_id=other)
    assert backfill_progress_columns(get_progress_model()) == 1
    first.refresh_from_db(), second.refresh_from_db(), services_row.refresh_from_db()
    assert first.progress_session_id == sid
    assert second.progress_session_id is None
    assert second.meta[PROGRESS_KEY]["session_id"] == str(sid)
    assert services_row.progress_session_id is None


def test_backfill_in_small_batches(make_knowledge):
    rows = [legacy_row(make_knowledge, seed_progress()) for _ in range(5)]
    assert backfill_progress_columns(get_progress_model(), batch_size=2) == 5
    for row in rows:
        row.refresh_from_db()
        assert row.progress_session_id == uuid.UUID(row.meta[PROGRESS_KEY]["session_id"])


def test_backfill_leaves_unusable_progress_alone(make_knowledge):
    model = get_progress_model()
    bad = [
        legacy_row(make_knowledge, seed_progress("nope")),
        legacy_row(make_knowledge, seed_progress(status=None)),
        legacy_row(make_knowledge, seed_progress(last_updated="yesterday")),
        legacy_row(make_knowledge, {"status": "processing", "last_updated": 1}),
        legacy_row(make_knowledge, "not a dict"),
    ]
    listy = make_knowledge()
    model.objects.filter(pk=listy.pk).update(meta=[PROGRESS_KEY])
    before = {r.pk: model.objects.get(pk=r.pk).meta for r in [*bad, listy]}
    assert backfill_progress_columns(model) == 0
    for pk, meta in before.items():
        row = model.objects.get(pk=pk)
        assert row.meta == meta and row.progress_session_id is None


@pytest.mark.parametrize(
    "change",
    [
        {"session_id": None},
        {"session_id": 12},
        {"session_id": "0" * 31},
        {"status": "done"},
        {"status": ["processing"]},
        {"last_updated": None},
        {"last_updated": "abc"},
        {"last_updated": float("inf")},
        {"last_updated": float("nan")},
        {"last_updated": 10**20},
        {"last_updated": -(10**20)},
    ],
    ids=repr,
)
def test_normalise_rejects_unusable_progress(change):
    assert normalise_seed_progress({**seed_progress(), **change}) is None


def test_normalise_keeps_seed_values_and_fills_missing_seed_keys():
    minimal = {"session_id": str(uuid.uuid4()), "status": "processing", "last_updated": 5.9}
    result = normalise_seed_progress(minimal, object_id="7")
    assert result["last_updated"] == 5 and result["started_at"] == 5
    assert result["finished_at"] is None and result["object_id"] == "7"
    for key in ("total_files", "processed_files", "current_file", "progress", "message", "error"):
        assert key in result
    full = seed_progress(custom="kept")
    assert {k: normalise_seed_progress(full)[k] for k in full} == full


@pytest.mark.django_db(transaction=True)
def test_migration_0003_adds_the_cleanup_lease_table_and_reverses():
    table = "progress_tracking_cleanuplease"
    try:
        migrate([("progress_tracking", "0002_index_seed_progress")])
        assert table not in connection.introspection.table_names()
        migrate([("progress_tracking", "0003_cleanup_lease")])
        assert table in connection.introspection.table_names()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_migration_0004_adds_the_history_table_and_reverses():
    table = "progress_tracking_progresshistory"
    try:
        migrate([("progress_tracking", "0003_cleanup_lease")])
        assert table not in connection.introspection.table_names()
        migrate([("progress_tracking", "0004_progress_history")])
        assert table in connection.introspection.table_names()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
