"""start_session belongs to the caller's transaction; worker writes reuse one side connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.http import JsonResponse
from django.urls import path

from progress_tracking import services, signals
from progress_tracking.models import get_progress_model
from progress_tracking.side_connection import close_side_connections, side_connection

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="needs PostgreSQL")


def fresh(row):
    return get_progress_model()._base_manager.get(pk=row.pk)


def test_a_session_started_in_a_rolled_back_transaction_is_gone(make_knowledge):
    row = make_knowledge()
    started = []
    signals.progress_started.connect(lambda **kw: started.append(kw), weak=False)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            sid = services.start_session(row, total_files=1)
            raise RuntimeError("the caller failed after starting")
    finally:
        signals.progress_started.receivers.clear()
    stored = fresh(row)
    assert stored.progress_session_id is None and "processing_progress" not in stored.meta
    assert services.get_progress(sid) is None
    assert started == []
    # The retry is not refused as a running session.
    assert services.get_progress(services.start_session(row, total_files=1)) is not None


def test_a_session_started_in_a_committed_transaction_stays(make_knowledge):
    row = make_knowledge()
    with transaction.atomic():
        sid = services.start_session(row, total_files=1)
    assert services.get_progress(sid)["status"] == "processing"


def failing_view(request, pk):
    row = get_progress_model().objects.get(pk=pk)
    services.start_session(row, total_files=1)
    if request.GET.get("fail"):
        raise RuntimeError("the view failed after starting a session")
    return JsonResponse({"ok": True})


urlpatterns = [path("start/<int:pk>", failing_view)]


@pytest.mark.urls(__name__)
def test_atomic_requests_roll_the_session_back_with_the_request(
    client, make_knowledge, monkeypatch
):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    row = make_knowledge()
    client.raise_request_exception = False
    assert client.get(f"/start/{row.pk}?fail=1").status_code == 500
    assert fresh(row).progress_session_id is None
    # The next attempt starts at once instead of meeting an orphan session.
    assert client.get(f"/start/{row.pk}").status_code == 200
    assert fresh(row).progress_status == "processing"


@postgres_only
def test_worker_writes_inside_atomic_reuse_one_side_connection_per_thread(
    make_knowledge, monkeypatch
):
    row = make_knowledge()
    sid = services.start_session(row, total_files=0)
    opened = []
    original = connections.create_connection

    def counting(alias):
        opened.append(alias)
        return original(alias)

    monkeypatch.setattr(connections, "create_connection", counting)
    for step in range(3):
        with transaction.atomic():
            services.update_progress(sid, message=f"step {step}")
    assert opened == ["default"], "one connection for three transactions"

    other = []
    thread = threading.Thread(target=lambda: other.append(side_connection("default")))
    thread.start()
    thread.join()
    assert other[0] is not side_connection("default"), "each thread has its own"
    assert services.get_progress(sid)["message"] == "step 2"


@postgres_only
def test_a_broken_side_connection_is_replaced(make_knowledge):
    row = make_knowledge()
    sid = services.start_session(row, total_files=0)
    with transaction.atomic():
        services.update_progress(sid, message="first")
    first = side_connection("default")
    first.connection.close()  # the server went away
    with transaction.atomic():
        services.update_progress(sid, message="second")
        assert services.get_progress(sid)["message"] == "second"
    assert side_connection("default") is not first


@postgres_only
def test_close_side_connections_closes_every_thread(make_knowledge):
    row = make_knowledge()
    sid = services.start_session(row, total_files=0)

    kept = []

    def write():
        with transaction.atomic():
            services.update_progress(sid, message="from a thread")
        kept.append(side_connection("default"))  # outlives the thread
        connections.close_all()  # the thread's own default connection

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    with transaction.atomic():
        services.update_progress(sid, message="from the main thread")
    assert close_side_connections() == 2
    assert kept[0].connection is None
    assert close_side_connections() == 0
