"""No batch is ever stuck: unexpected errors, dead workers, fair queueing."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from knowledge import tasks
from knowledge.models import Document
from knowledge.recovery import INTERRUPTED
from progress_tracking import services
from progress_tracking.models import Knowledge

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def kb(user):
    return Knowledge.objects.create(name="Research", user=user)


def add_documents(kb, *names, body=b"Some words to read."):
    documents = [
        Document.objects.create(
            knowledge=kb, file=ContentFile(body, name=name), name=name, size=len(body)
        )
        for name in names
    ]
    session_id = services.start_session(kb, files=list(names), join_active=True)
    Document.objects.filter(pk__in=[d.pk for d in documents]).update(session_id=session_id)
    return session_id, documents


def files_of(session_id):
    return {f["name"]: f for f in services.get_progress(session_id)["files"]}


def test_an_unexpected_error_becomes_the_files_error_and_the_batch_goes_on(
    kb, immediate_tasks, monkeypatch, caplog
):
    session_id, (bad, good) = add_documents(kb, "bad.txt", "good.txt")
    real = tasks.extract_in_child

    def extract(path, *, filename, **kwargs):
        if filename == "bad.txt":
            raise IndexError("Out of bounds on buffer access (axis 0)")
        return real(path, filename=filename, **kwargs)

    monkeypatch.setattr(tasks, "extract_in_child", extract)
    tasks.enqueue_documents(session_id, [bad, good], backlog=0)

    progress = services.get_progress(session_id)
    assert progress["status"] == "completed" and progress["failed_files"] == 1
    entry = files_of(session_id)["bad.txt"]
    assert entry["status"] == "error" and entry["error"] == tasks.INTERNAL_ERROR
    assert "Out of bounds" not in entry["error"]  # the detail goes to the log only
    assert "Out of bounds on buffer access" in caplog.text
    assert entry["message"].startswith("bad.txt: The file could not be processed")
    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.status, good.status) == ("error", "completed")


def test_a_failed_file_keeps_its_progress_and_shows_its_error(kb, immediate_tasks):
    session_id, documents = add_documents(kb, "binary.txt", body=b"text\x00\x01 binary")
    tasks.enqueue_documents(session_id, documents, backlog=0)
    entry = files_of(session_id)["binary.txt"]
    assert entry["status"] == "error" and "binary file" in entry["error"]
    assert entry["progress"] == 0  # it failed on its first (only) chunk, not at 99.9 %
    assert entry["message"] == f"binary.txt: {entry['error']}"


def test_messages_name_the_file_being_worked_on(kb, immediate_tasks, monkeypatch):
    session_id, documents = add_documents(kb, "a.txt")
    seen = []
    monkeypatch.setattr(
        "progress_tracking.recorder.ProgressRecorder.file",
        lambda self, name, **values: (
            seen.append(values.get("message"))
            or services.update_file_progress(self.session_id, name, **values)
        ),
    )
    tasks.enqueue_documents(session_id, documents, backlog=0)
    assert seen == ["Starting a.txt", "Extracted 19 characters from a.txt", "a.txt: 4 words"]


def test_a_session_that_went_away_ends_the_document_as_interrupted(kb, immediate_tasks):
    session_id, documents = add_documents(kb, "late.txt")
    services.clear_progress(session_id)
    tasks.enqueue_documents(session_id, documents, backlog=0)
    documents[0].refresh_from_db()
    assert documents[0].status == "error" and documents[0].error == INTERRUPTED


def test_a_restart_ends_what_a_killed_worker_left_and_the_batch_completes(kb, settings):
    settings.TASKS = DB_BACKEND
    from django_tasks_db.models import DBTaskResult

    session_id, (first, second) = add_documents(kb, "first.txt", "second.txt")
    tasks.enqueue_documents(session_id, [first, second], backlog=0)
    # The worker had finished the first file and was killed while reading the second.
    services.update_file_progress(session_id, "first.txt", progress=100, status="completed")
    Document.objects.filter(pk=first.pk).update(status="completed")
    services.update_file_progress(session_id, "second.txt", progress=40, message="Reading")
    Document.objects.filter(pk=second.pk).update(status="processing")
    running = DBTaskResult.objects.get(args_kwargs__args=[session_id, second.pk])
    running.status = "RUNNING"
    running.save()

    out = io.StringIO()
    call_command("recover_interrupted_uploads", stdout=out)
    assert out.getvalue().strip() == ("Ended 1 interrupted document(s) and 1 interrupted task(s).")
    second.refresh_from_db()
    assert second.status == "error" and second.error == INTERRUPTED
    entry = files_of(session_id)["second.txt"]
    assert entry["status"] == "error" and entry["progress"] == 40
    assert "interrupted" in entry["error"]
    assert services.get_progress(session_id)["status"] == "completed"
    running.refresh_from_db()
    assert running.status == "FAILED" and "WorkerInterrupted" in running.exception_class_path
    # Nothing else to end the next time.
    call_command("recover_interrupted_uploads", stdout=out)
    assert (
        out.getvalue()
        .strip()
        .endswith("Ended 0 interrupted document(s) and 0 interrupted task(s).")
    )


def test_a_stale_session_ends_its_documents_when_the_page_is_shown(client, user, kb, settings):
    settings.TASKS = DB_BACKEND
    start = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
    with freeze_time(start):
        _session_id, documents = add_documents(kb, "a.txt", "b.txt")
        Document.objects.filter(pk=documents[0].pk).update(status="processing")
    client.force_login(user)
    with freeze_time(start + datetime.timedelta(seconds=30)):
        client.get(reverse("knowledge:detail", args=[kb.pk]))
        # Still running: nothing is ended.
        assert set(Document.objects.values_list("status", flat=True)) == {
            "pending",
            "processing",
        }
    with freeze_time(start + datetime.timedelta(seconds=301)):
        response = client.get(reverse("knowledge:detail", args=[kb.pk]))
    assert response.status_code == 200
    assert set(Document.objects.values_list("status", "error")) == {("error", INTERRUPTED)}
    assert "interrupted" in response.content.decode()


def test_a_queued_task_of_an_ended_document_does_nothing(kb, immediate_tasks):
    session_id, documents = add_documents(kb, "a.txt")
    Document.objects.filter(pk=documents[0].pk).update(status="error", error=INTERRUPTED)
    result = tasks.process_document.call(session_id, documents[0].pk)
    assert result == {"document": documents[0].pk, "skipped": True}


def test_a_second_users_first_file_is_queued_ahead_of_a_long_batch(kb, other_user, settings):
    settings.TASKS = DB_BACKEND
    from django_tasks_db.models import DBTaskResult

    session_id, heavy = add_documents(kb, *[f"{i}.txt" for i in range(4)])
    tasks.enqueue_documents(session_id, heavy, backlog=0)
    other_kb = Knowledge.objects.create(name="Other", user=other_user)
    other_session, (small,) = add_documents(other_kb, "small.txt")
    tasks.enqueue_documents(other_session, [small], backlog=0)
    order = [r.args_kwargs["args"][1] for r in DBTaskResult.objects.ready()]
    # Workers take the highest priority first: the small file comes second, not last.
    assert order == [heavy[0].pk, small.pk, *[d.pk for d in heavy[1:]]]
    assert [r.priority for r in DBTaskResult.objects.ready()] == [0, 0, -1, -2, -3]


def test_a_file_waits_while_its_owner_already_has_a_file_being_read(kb, settings):
    settings.TASKS = DB_BACKEND
    from django_tasks_db.models import DBTaskResult

    session_id, (running, waiting) = add_documents(kb, "running.txt", "waiting.txt")
    Document.objects.filter(pk=running.pk).update(status="processing")
    result = tasks.process_document.call(session_id, waiting.pk)
    assert result == {"document": waiting.pk, "deferred": True}
    waiting.refresh_from_db()
    assert waiting.status == "pending"
    (queued,) = DBTaskResult.objects.filter(status="READY")
    assert queued.args_kwargs["args"] == [session_id, waiting.pk]
    assert queued.run_after > timezone.now()

    # Without a limit (or once the owner's other file is done) it is read at once.
    settings.KNOWLEDGE_FILES_AT_ONCE_PER_USER = 0
    result = tasks.process_document.call(session_id, waiting.pk)
    assert result == {"document": waiting.pk, "failed": False}


def test_a_file_a_dead_worker_left_does_not_hold_up_its_owners_next_file(kb, settings):
    settings.TASKS = DB_BACKEND
    start = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
    with freeze_time(start):
        _, (dead,) = add_documents(kb, "dead.txt")
        Document.objects.filter(pk=dead.pk).update(status="processing")
    other_kb = Knowledge.objects.create(name="Another", user=kb.user)
    with freeze_time(start + datetime.timedelta(seconds=301)):
        session_id, (waiting,) = add_documents(other_kb, "next.txt")
        result = tasks.process_document.call(session_id, waiting.pk)
    assert result == {"document": waiting.pk, "failed": False}
    dead.refresh_from_db()
    assert dead.status == "error" and dead.error == INTERRUPTED


# --- cancel -----------------------------------------------------------------------------------


def _stepping_reader(session_id, steps, *, cancel_at):
    """A reader reporting ten steps; the user cancels the batch before step ``cancel_at``."""

    def extract(path, *, filename, on_progress, **kwargs):
        for step in range(10):
            if step == cancel_at:
                services.request_cancel(session_id)
            on_progress(step / 10, f"{filename}: step {step}")
            steps.append((filename, step))
        return "all the words"

    return extract


def test_a_cancel_stops_the_file_at_its_next_step_and_the_batch_ends_cancelled(
    kb, immediate_tasks, monkeypatch
):
    immediate_tasks.PROGRESS_TRACKING = {
        **immediate_tasks.PROGRESS_TRACKING,
        "RECORDER_MIN_INTERVAL": 0,
    }
    session_id, documents = add_documents(kb, "first.wav", "second.pdf")
    steps = []
    monkeypatch.setattr(tasks, "extract_in_child", _stepping_reader(session_id, steps, cancel_at=3))
    tasks.enqueue_documents(session_id, documents, backlog=0)

    # The step reported after the cancel was the last one: the reader stopped there.
    assert steps == [("first.wav", 0), ("first.wav", 1), ("first.wav", 2)]
    progress = services.get_progress(session_id)
    assert progress["status"] == "cancelled"
    assert {f["name"]: f["status"] for f in progress["files"]} == {
        "first.wav": "cancelled",
        "second.pdf": "cancelled",
    }
    for document in documents:
        document.refresh_from_db()
        assert document.status == "cancelled"
        assert document.error == "" and document.text == ""


@pytest.mark.django_db(transaction=True)
def test_queued_documents_end_cancelled_as_soon_as_the_batch_is(user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    kb = Knowledge.objects.create(name="Research", user=user)
    session_id, documents = add_documents(kb, "a.txt", "b.txt")
    Document.objects.filter(pk=documents[0].pk).update(status="completed")
    services.request_cancel(session_id)
    statuses = dict(Document.objects.values_list("name", "status"))
    assert statuses == {"a.txt": "completed", "b.txt": "cancelled"}
    # A task of the batch that a worker takes afterwards does nothing.
    assert tasks.process_document.call(session_id, documents[1].pk) == {
        "document": documents[1].pk,
        "skipped": True,
    }


def test_a_queued_document_of_a_cancelled_batch_is_skipped_when_its_task_runs(
    kb, immediate_tasks, monkeypatch
):
    session_id, documents = add_documents(kb, "a.txt", "b.txt")
    services.request_cancel(session_id)
    # The receiver runs after the commit, which a test transaction never reaches: the task's
    # own check of abandoned documents ends them.
    Document.objects.filter(session_id=session_id).update(status="pending")
    monkeypatch.setattr(tasks, "extract_in_child", pytest.fail)
    result = tasks.process_document.call(session_id, documents[0].pk)
    assert result == {"document": documents[0].pk, "skipped": True}
    assert set(Document.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_cancelled_task_says_where_its_reader_stopped(kb, immediate_tasks, monkeypatch):
    immediate_tasks.PROGRESS_TRACKING = {
        **immediate_tasks.PROGRESS_TRACKING,
        "RECORDER_MIN_INTERVAL": 0,
    }
    session_id, (document,) = add_documents(kb, "talk.wav")
    steps = []
    monkeypatch.setattr(tasks, "extract_in_child", _stepping_reader(session_id, steps, cancel_at=4))
    result = tasks.process_document.call(session_id, document.pk)
    # The report of step 4 (40 %) found the session cancelled: the reader stopped there.
    assert result == {"document": document.pk, "cancelled": True, "stopped_at": 40.0}
    assert [step for _, step in steps] == [0, 1, 2, 3]
