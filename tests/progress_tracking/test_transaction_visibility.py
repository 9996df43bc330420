"""Progress written inside the worker's own transaction.atomic().

PostgreSQL: visible to pollers at once (written on a second connection, one per thread).
SQLite: one writer at a time per file, so the write joins the worker's transaction and shows
at its commit (documented limitation).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction  # noqa: F401 - skipif conditions

from progress_tracking import services, storage
from progress_tracking.models import get_progress_model

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL")


def read_in_another_thread(session_id):
    """What a poller in another process sees: its own connection, its own snapshot."""
    result = {}

    def poll():
        try:
            result["progress"] = services.get_progress(session_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=poll)
    thread.start()
    thread.join(timeout=30)
    return result["progress"]


@pytest.fixture
def committed_session(make_knowledge):
    knowledge = make_knowledge()
    return knowledge, services.start_session(knowledge, files=["a.wav"])


@postgres_only
def test_postgres_progress_is_visible_before_the_worker_commits(committed_session):
    _, sid = committed_session
    with transaction.atomic():
        services.update_file_progress(sid, "a.wav", progress=42, message="chunk 3")
        seen = read_in_another_thread(sid)
        assert seen["files"][0]["progress"] == 42
        assert seen["message"] == "chunk 3"


@postgres_only
def test_postgres_progress_survives_the_workers_rollback(committed_session):
    _, sid = committed_session
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_file_progress(sid, "a.wav", progress=10)
        raise RuntimeError("task failed after reporting")
    assert services.get_progress(sid)["files"][0]["progress"] == 10


@postgres_only
def test_postgres_row_created_in_the_workers_transaction_falls_back_once(
    make_knowledge, monkeypatch
):
    calls = []
    original = storage._write_on_side_connection

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(storage, "_write_on_side_connection", counting)
    with transaction.atomic():
        knowledge = make_knowledge()  # not visible to any other connection yet
        sid = services.start_session(knowledge, total_files=2)
        services.update_progress(sid, progress=20)
        services.update_progress(sid, progress=30)
        assert read_in_another_thread(sid) is None  # joined the worker's transaction
    assert len(calls) == 1, "after one fallback, the rest of the transaction writes inline"
    assert services.get_progress(sid)["progress"] == 30


@postgres_only
@pytest.mark.parametrize("ends", ["commit", "rollback"])
def test_postgres_fallback_lasts_only_for_the_transaction_that_fell_back(
    committed_session, make_knowledge, ends
):
    """A decorated function enters the same Atomic object on every call: the next call's
    transaction uses the side connection again."""
    _, sid = committed_session

    @transaction.atomic
    def job(progress, create_row=False, fail=False):
        if create_row:  # its session can only be written inside this transaction
            inner = services.start_session(make_knowledge(), total_files=1)
            services.update_progress(inner, progress=5)
        services.update_file_progress(sid, "a.wav", progress=progress)
        seen = read_in_another_thread(sid)["files"][0]["progress"]
        if fail:
            raise RuntimeError("the job failed")
        return seen

    assert job(10) == 10
    if ends == "commit":
        assert job(20, create_row=True) == 10, "fell back: written inside the transaction"
    else:
        with pytest.raises(RuntimeError):
            job(20, create_row=True, fail=True)
    assert job(30) == 30, "the next call's write is visible before its commit again"


@postgres_only
def test_postgres_row_locked_by_the_worker_falls_back_after_lock_timeout(
    committed_session, monkeypatch
):
    monkeypatch.setattr(storage, "SIDE_CONNECTION_LOCK_TIMEOUT", "100ms")
    knowledge, sid = committed_session
    with transaction.atomic():
        get_progress_model().objects.filter(pk=knowledge.pk).update(name="renamed")  # row lock
        services.update_progress(sid, message="no deadlock")
    assert services.get_progress(sid)["message"] == "no deadlock"


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite behaviour")
def test_sqlite_progress_joins_the_workers_transaction(committed_session):
    _, sid = committed_session
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_file_progress(sid, "a.wav", progress=10)
        raise RuntimeError("rolled back")
    assert services.get_progress(sid)["files"][0]["progress"] == 0


def test_writes_outside_a_transaction_use_the_default_connection(committed_session, monkeypatch):
    _, sid = committed_session
    monkeypatch.setattr(
        storage,
        "_write_on_side_connection",
        lambda *a, **k: pytest.fail("no caller transaction: no second connection"),
    )
    assert services.update_progress(sid, message="plain")["message"] == "plain"
