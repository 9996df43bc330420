"""History of finished sessions: written once after the final commit, pruned after retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from freezegun import freeze_time

from progress_tracking import history, services, sweeper
from progress_tracking.models import ProgressHistory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what waits for the test's transaction to commit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def finish(row, *, status="completed", files=("a.pdf", "b.wav"), seconds=42):
    with freeze_time(T0) as clock:
        sid = services.start_session(row, files=files)
        clock.tick(timedelta(seconds=seconds))
        for name in files:
            failed = status == "completed" and name.endswith(".wav")
            services.update_file_progress(
                sid, name, progress=100, status="error" if failed else "completed", error="bad"
            )
        if status == "completed":
            services.mark_session_complete(sid)
        else:
            services.mark_session_error(sid, "Worker died")
    return sid


def test_a_completed_session_leaves_a_record_of_who_what_when(knowledge, user, commit):
    with commit():
        sid = finish(knowledge)
    record = ProgressHistory.objects.get()
    assert str(record.session_id) == sid
    assert record.model_label == type(knowledge)._meta.label
    assert record.object_id == str(knowledge.pk)
    assert record.owner_id == str(user.pk)
    assert record.status == "completed"
    assert record.started_at == T0
    assert record.finished_at == T0 + timedelta(seconds=42)
    assert record.duration_seconds == 42
    assert (record.total_files, record.failed_files) == (2, 1)
    assert record.message == "Completed: 1 of 2 files failed."
    assert record.error == ""


def test_a_failed_session_keeps_its_error(make_knowledge, commit):
    with commit():
        finish(make_knowledge(), status="error", files=("a.pdf",))
    record = ProgressHistory.objects.get()
    assert (record.status, record.error, record.owner_id) == ("error", "Worker died", "")
    assert record.message == "Processing failed."


def test_nothing_is_recorded_before_the_final_write_commits(
    knowledge, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        finish(knowledge)
    assert not ProgressHistory.objects.exists()
    for callback in callbacks:
        callback()
    assert ProgressHistory.objects.count() == 1


def test_running_sessions_and_repeated_final_writes_add_nothing(knowledge, commit):
    with commit():
        sid = services.start_session(knowledge, files=["a.pdf"])
        services.update_file_progress(sid, "a.pdf", progress=50)
    assert not ProgressHistory.objects.exists()
    with commit():
        services.update_file_progress(sid, "a.pdf", progress=100, status="completed")
        services.mark_session_complete(sid)
        services.mark_session_complete(sid)  # already final: no change, no second record
        history.record_finished(type(knowledge), services.get_progress(sid))
    assert ProgressHistory.objects.count() == 1


def test_any_final_status_is_recorded_as_it_is(knowledge):
    progress = {
        "session_id": "0b7c6a3e-3f1e-4a56-9a0e-0f4c2f1c5a11",
        "object_id": str(knowledge.pk),
        "status": "cancelled",
        "started_at": 100,
        "finished_at": 130,
        "total_files": 40,
        "failed_files": 0,
        "message": "Cancelled.",
    }
    history.record_finished(type(knowledge), progress)
    record = ProgressHistory.objects.get()
    assert (record.status, record.duration_seconds, record.total_files) == ("cancelled", 30, 40)


def test_turned_off_it_records_nothing(knowledge, commit, settings):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "HISTORY": False}
    with commit():
        finish(knowledge)
    assert not ProgressHistory.objects.exists()


def test_a_history_that_cannot_be_written_never_fails_the_final_report(
    knowledge, commit, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(ProgressHistory._default_manager, "bulk_create", broken)
    with caplog.at_level(logging.ERROR, logger="progress_tracking.history"), commit():
        finish(knowledge)
    knowledge.refresh_from_db()
    assert knowledge.progress_status == "completed"
    assert "Could not record the history of session" in caplog.text


def old_records(count, *, age):
    now = datetime.now(UTC)
    ProgressHistory.objects.bulk_create(
        ProgressHistory(
            session_id=f"00000000-0000-4000-8000-{i:012d}",
            model_label="progress_tracking.Knowledge",
            object_id=str(i),
            status="completed",
            finished_at=now - age,
        )
        for i in range(count)
    )


def test_records_past_retention_are_pruned_in_batches(django_assert_num_queries):
    old_records(5, age=timedelta(days=31))
    ProgressHistory.objects.filter(object_id="4").update(finished_at=datetime.now(UTC))
    assert history.prune_history(dry_run=True) == 4
    batches = []
    # 2 batches of 2: each one SELECT of ids and one DELETE; then one empty SELECT.
    with django_assert_num_queries(5):
        removed = history.prune_history(
            batch_size=2, between_batches=lambda n: batches.append(n) is None
        )
    assert (removed, batches) == (4, [2, 4])
    assert list(ProgressHistory.objects.values_list("object_id", flat=True)) == ["4"]


def test_retention_is_a_setting(settings):
    old_records(3, age=timedelta(days=2))
    assert history.prune_history() == 0
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "HISTORY_RETENTION": 86400}
    assert history.prune_history() == 3


def test_a_stopped_prune_keeps_the_rest():
    old_records(5, age=timedelta(days=31))
    assert history.prune_history(batch_size=2, between_batches=lambda n: False) == 2
    assert ProgressHistory.objects.count() == 3


def test_bad_older_than_is_refused():
    from progress_tracking.exceptions import InvalidProgressData

    with pytest.raises(InvalidProgressData):
        history.prune_history(older_than=-1)  # type: ignore[arg-type]


def run_command(*args):
    out = StringIO()
    call_command("cleanup_progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_cleanup_progress_prunes_history_and_says_so_on_a_second_line():
    old_records(3, age=timedelta(days=31))
    assert run_command("--dry-run").splitlines()[1] == (
        "Would remove 3 history records (older than 30 days)."
    )
    assert run_command("--keep-history").count("\n") == 1
    assert ProgressHistory.objects.count() == 3
    assert run_command().splitlines()[1] == "Removed 3 history records (older than 30 days)."
    assert not ProgressHistory.objects.exists()
    assert run_command().count("\n") == 1, "nothing to prune: the one line of before"


def test_the_automatic_sweep_prunes_history_too(settings, monkeypatch):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "AUTO_CLEANUP": True}
    monkeypatch.setattr(sweeper, "PAUSE_BETWEEN_BATCHES", 0)
    old_records(3, age=timedelta(days=31))
    old_records_recent = ProgressHistory.objects.filter(object_id="0")
    old_records_recent.update(finished_at=datetime.now(UTC))
    sweeper.run_scheduled_sweep()
    assert list(ProgressHistory.objects.values_list("object_id", flat=True)) == ["0"]
