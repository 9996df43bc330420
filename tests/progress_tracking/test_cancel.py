"""Cancel: the service, its state rules, the signal, the recorder and the API endpoint."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

from progress_tracking import services, signals, state
from progress_tracking.exceptions import (
    InvalidProgressData,
    ProgressCancelled,
    SessionNotFound,
    SessionStale,
)
from progress_tracking.models import FINAL_FILE_STATUSES, FINAL_STATUSES, FileStatus
from progress_tracking.recorder import ProgressRecorder
from progress_tracking.views import NOT_FOUND_DETAIL


@pytest.fixture
def session(knowledge):
    sid = services.start_session(knowledge, files=["a.pdf", "b.mp3", "c.txt"])
    services.update_file_progress(sid, "a.pdf", progress=100, status="completed")
    services.update_file_progress(sid, "b.mp3", progress=40)
    return sid


def cancel_url(session_id: str) -> str:
    return reverse("progress_tracking:cancel", kwargs={"session_id": session_id})


def client_for(user=None, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


# --- the service and its rules ----------------------------------------------------------------


def test_cancelled_is_a_final_status_of_sessions_and_files():
    assert "cancelled" in FINAL_STATUSES
    assert "cancelled" in FINAL_FILE_STATUSES


def test_request_cancel_ends_the_session_and_its_unfinished_files(session):
    before = services.get_progress(session)
    result = services.request_cancel(session)
    assert result["status"] == "cancelled"
    assert result["finished_at"] is not None
    assert result["message"] == "Processing cancelled."
    files = {f["name"]: f for f in result["files"]}
    assert files["a.pdf"]["status"] == "completed"  # finished files keep their end
    assert files["b.mp3"] == {**files["b.mp3"], "status": "cancelled", "progress": 40}
    assert files["c.txt"]["status"] == "cancelled"
    # The bar stops where the work stopped; only finished work counts as processed.
    assert result["progress"] == before["progress"]
    assert result["processed_files"] == 1
    assert result["failed_files"] == 0
    assert services.get_progress(session) == result


def test_cancel_of_a_finished_session_changes_nothing(knowledge):
    sid = services.start_session(knowledge, total_files=1)
    done = services.mark_session_complete(sid)
    assert services.request_cancel(sid) == done
    assert services.request_cancel(sid)["status"] == "completed"


def test_cancel_twice_answers_the_same(session):
    first = services.request_cancel(session)
    assert services.request_cancel(session) == first


def test_cancel_of_unknown_and_stale_sessions(knowledge, settings):
    with pytest.raises(SessionNotFound):
        services.request_cancel("not-a-uuid")
    with pytest.raises(SessionNotFound):
        services.request_cancel("12345678-1234-5678-1234-567812345678")
    sid = services.start_session(knowledge, total_files=1)
    with (
        freeze_time(timedelta(seconds=settings.PROGRESS_TRACKING.get("STALE_AFTER", 300) + 5)),
        pytest.raises(SessionStale),
    ):
        services.request_cancel(sid)


def test_writes_after_a_cancel_change_nothing_and_answer_cancelled(session):
    cancelled = services.request_cancel(session)
    assert services.update_file_progress(session, "c.txt", progress=50) == cancelled
    assert services.update_progress(session, progress=90) == cancelled
    assert services.heartbeat(session) == cancelled
    assert services.mark_session_complete(session) == cancelled
    assert services.mark_session_error(session, "late") == cancelled


def test_a_worker_cannot_report_a_file_cancelled(session):
    with pytest.raises(InvalidProgressData, match="request_cancel"):
        services.update_file_progress(session, "c.txt", progress=0, status="cancelled")
    with pytest.raises(InvalidProgressData, match="request_cancel"):
        services.update_progress(session, status="cancelled")


def test_a_cancelled_session_is_removed_after_finished_ttl(session, settings):
    services.request_cancel(session)
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "FINISHED_TTL": 60}
    with freeze_time(timedelta(seconds=30)):
        assert services.cleanup_stale_progress() == 0
    with freeze_time(timedelta(seconds=61)):
        assert services.cleanup_stale_progress() == 1
    assert services.get_progress(session) is None


def test_apply_cancel_leaves_the_input_alone():
    current = state.new_progress(
        "s", object_id="1", total_files=2, files=["x", "y"], message="", now=100
    )
    new = state.apply_cancel(current, now=200)
    assert current["status"] == "processing"
    assert [f["status"] for f in current["files"]] == ["pending", "pending"]
    assert [f["status"] for f in new["files"]] == ["cancelled", "cancelled"]
    assert new["version"] == current["version"] + 1
    assert new["finished_at"] == 200


@pytest.mark.django_db(transaction=True)
def test_progress_cancelled_is_sent_once_after_commit(knowledge):
    from django.db import transaction

    sid = services.start_session(knowledge, files=["a"])
    received = []

    def receiver(sender, session_id, progress, **kwargs):
        received.append((session_id, progress["status"]))

    signals.progress_cancelled.connect(receiver)
    try:
        with transaction.atomic():
            services.request_cancel(sid)
            inside = list(received)
        services.request_cancel(sid)  # already cancelled: no second signal
    finally:
        signals.progress_cancelled.disconnect(receiver)
    assert received == [(sid, "cancelled")]
    # On PostgreSQL the write commits at once on its own connection; on SQLite at the
    # caller's commit: either way no receiver saw an uncommitted cancel.
    assert inside in ([], [(sid, "cancelled")])


# --- the recorder -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_recorder_raises_at_the_next_written_report(session):
    clock = FakeClock()
    recorder = ProgressRecorder(session, min_interval=0.5, clock=clock)
    recorder.file("b.mp3", progress=50)  # coalesced: due within min_interval
    services.request_cancel(session)
    recorder.file("b.mp3", progress=55)  # still coalesced: nothing written, nothing learnt
    clock.now += 0.5
    with pytest.raises(ProgressCancelled) as raised:
        recorder.file("b.mp3", progress=60)
    assert raised.value.session_id == session
    assert recorder.cancelled
    assert not recorder.pending  # what was buffered can never be written
    # Every later call says so too, without writing.
    for call in (
        lambda: recorder.file("c.txt", progress=1),
        lambda: recorder.update(progress=99),
        recorder.flush,
        recorder.complete,
    ):
        with pytest.raises(ProgressCancelled):
            call()


def test_recorder_raises_on_complete_after_a_cancel(knowledge):
    sid = services.start_session(knowledge, total_files=1)
    recorder = ProgressRecorder(sid)
    services.request_cancel(sid)
    with pytest.raises(ProgressCancelled):
        recorder.complete()
    assert services.get_progress(sid)["status"] == "cancelled"
    assert not recorder.finished


def test_with_block_ends_quietly_and_the_session_stays_cancelled(session):
    reached = []
    with ProgressRecorder(session, min_interval=0) as recorder:
        recorder.file("b.mp3", progress=50)
        services.request_cancel(session)
        recorder.file("b.mp3", progress=60)
        reached.append("not stopped")  # pragma: no cover - the report above raises
    assert reached == []
    progress = services.get_progress(session)
    assert progress["status"] == "cancelled"
    assert progress["error"] is None
    assert {f["name"]: f["status"] for f in progress["files"]} == {
        "a.pdf": "completed",
        "b.mp3": "cancelled",
        "c.txt": "cancelled",
    }


def test_another_sessions_cancel_exception_is_not_swallowed(session, knowledge, make_knowledge):
    other = ProgressCancelled("00000000-0000-4000-8000-000000000000")
    with pytest.raises(ProgressCancelled), ProgressRecorder(session):
        raise other
    assert services.get_progress(session)["status"] == "error"


def test_a_with_block_that_ends_normally_after_a_cancel_is_quiet(session):
    with ProgressRecorder(session, min_interval=0) as recorder:
        recorder.file("b.mp3", progress=45)
        services.request_cancel(session)
    assert not recorder.pending
    assert services.get_progress(session)["status"] == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_tells_a_worker_that_reports_nothing(make_knowledge):
    sid = services.start_session(make_knowledge(), files=["slow.wav"])
    # Cancelled before the heartbeat starts: its first beat is the write that tells the worker
    # (cancelling while it beats would race it on the tests' in-memory SQLite, which answers
    # a concurrent write with "table is locked" instead of waiting as a file database does).
    services.request_cancel(sid)
    recorder = ProgressRecorder(sid, heartbeat_interval=0.05).start()
    thread = recorder._thread
    try:
        deadline = time.monotonic() + 10
        while not recorder.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert recorder.cancelled
        # The heartbeat thread ends by itself: the session is over.
        assert thread is not None
        thread.join(timeout=5)
        assert not thread.is_alive()
        with pytest.raises(ProgressCancelled):
            recorder.update(message="next step")
    finally:
        recorder.stop()


def test_a_worker_that_ignores_the_cancel_writes_nothing(session):
    recorder = ProgressRecorder(session, min_interval=0)
    services.request_cancel(session)
    cancelled = services.get_progress(session)
    for step in range(3):
        with contextlib.suppress(ProgressCancelled):  # a careless worker goes on
            recorder.file("c.txt", progress=10 * step)
    assert services.get_progress(session) == cancelled


@pytest.mark.django_db(transaction=True)
def test_cancel_from_another_thread_reaches_a_busy_worker(make_knowledge):
    session = services.start_session(make_knowledge(), files=["c.txt"])
    reported, resume = threading.Event(), threading.Event()
    stopped_at = []

    def work():
        with ProgressRecorder(session, min_interval=0) as recorder:
            for step in range(1000):
                recorder.file("c.txt", progress=step / 10)
                stopped_at.append(step)
                if step == 2:
                    # Park between two writes while the cancel lands: the in-memory SQLite
                    # of the tests answers a concurrent write with "table is locked" at once
                    # instead of waiting (a file database waits), and what is tested is that
                    # the worker's next write notices the cancel, not SQLite's locking.
                    reported.set()
                    resume.wait(timeout=30)

    worker = threading.Thread(target=work)
    worker.start()
    assert reported.wait(timeout=30)
    services.request_cancel(session)
    resume.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    # The first write after the cancel raised ProgressCancelled and the recorder ended quietly.
    assert stopped_at == [0, 1, 2]
    progress = services.get_progress(session)
    assert progress["status"] == "cancelled"
    assert progress["files"][0]["status"] == "cancelled"


# --- POST {id}/cancel -------------------------------------------------------------------------


def test_owner_cancels_and_gets_the_status_body(session, user):
    response = client_for(user).post(cancel_url(session))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["session_id"] == session
    assert {f["name"]: f["status"] for f in body["files"]}["c.txt"] == "cancelled"
    assert response["ETag"]


def test_staff_may_cancel_and_others_get_the_same_404(session, staff_user, other_user):
    foreign = client_for(other_user).post(cancel_url(session))
    assert foreign.status_code == 404
    assert foreign.json() == {"detail": str(NOT_FOUND_DETAIL)}
    assert services.get_progress(session)["status"] == "processing"
    assert client_for(staff_user).post(cancel_url(session)).json()["status"] == "cancelled"


@pytest.mark.parametrize("sid", ["not-a-uuid", "12345678-1234-5678-1234-567812345678", "a/b"])
def test_unknown_and_malformed_ids_answer_json_404(user, sid):
    response = client_for(user).post(cancel_url(sid))
    assert response.status_code == 404
    assert response.json() == {"detail": str(NOT_FOUND_DETAIL)}


def test_anonymous_cancel_is_refused(session):
    response = APIClient().post(cancel_url(session))
    assert response.status_code in (401, 403, 404)
    assert "detail" in response.json()
    assert services.get_progress(session)["status"] == "processing"


def test_cancel_of_a_finished_session_answers_its_final_body(knowledge, user):
    sid = services.start_session(knowledge, total_files=1)
    services.mark_session_error(sid, "broken")
    response = client_for(user).post(cancel_url(sid))
    assert response.status_code == 200
    assert response.json()["status"] == "error"


def test_cancel_of_a_stale_session_is_404(knowledge, user, settings):
    sid = services.start_session(knowledge, total_files=1)
    with freeze_time(timedelta(seconds=301)):
        response = client_for(user).post(cancel_url(sid))
    assert response.status_code == 404
    assert response.json() == {"detail": str(NOT_FOUND_DETAIL)}


def test_session_gone_between_check_and_cancel_is_404(session, user, monkeypatch):
    def vanish(session_id):
        raise SessionNotFound(session_id)

    monkeypatch.setattr(services, "request_cancel", vanish)
    response = client_for(user).post(cancel_url(session))
    assert response.status_code == 404


def test_cancel_with_session_auth_needs_csrf_token(session, user):
    client = client_for(user, enforce_csrf_checks=True)
    refused = client.post(cancel_url(session))
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert services.get_progress(session)["status"] == "processing"

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    accepted = client.post(cancel_url(session), HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200


def test_other_methods_on_cancel_are_refused(session, user):
    client = client_for(user)
    assert client.get(cancel_url(session)).status_code == 405
    assert services.get_progress(session)["status"] == "processing"


def test_cancelled_status_is_served_by_status_endpoint(session, user):
    services.request_cancel(session)
    url = reverse("progress_tracking:status", kwargs={"session_id": session})
    body = client_for(user).get(url).json()
    assert body["status"] == "cancelled"
    assert FileStatus.CANCELLED in {f["status"] for f in body["files"]}
