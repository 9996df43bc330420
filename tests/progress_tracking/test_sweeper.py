"""The automatic cleanup: schedule, lease, failures, and the hooks that start it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError
from django.test import override_settings
from django.utils import timezone
from freezegun import freeze_time

from progress_tracking import services, sweeper
from progress_tracking.models import PROGRESS_KEY, CleanupLease, get_progress_model

from .test_concurrency import ROOT, database_url_for_workers

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
STALE = timedelta(seconds=301)
INTERVAL = timedelta(seconds=60)


@pytest.fixture
def enabled(settings):
    settings.PROGRESS_TRACKING = {
        **settings.PROGRESS_TRACKING,
        "AUTO_CLEANUP": True,
        "AUTO_CLEANUP_INTERVAL": 60,
        "STALE_AFTER": 300,
        "FINISHED_TTL": 300,
    }
    return settings


@pytest.fixture
def no_pause(monkeypatch):
    monkeypatch.setattr(sweeper, "PAUSE_BETWEEN_BATCHES", 0)


@pytest.fixture
def clock():
    with freeze_time(T0) as frozen:
        yield frozen


def new_session(make_knowledge, status="processing"):
    row = make_knowledge(meta={"host": "kept"})
    session_id = services.start_session(row, total_files=0)
    if status == "completed":
        services.mark_session_complete(session_id)
    return row, session_id


def has_progress(row):
    row.refresh_from_db()
    return PROGRESS_KEY in row.meta or row.progress_session_id is not None


def lease():
    return CleanupLease.objects.get(name=sweeper.LEASE_NAME)


@pytest.mark.django_db
def test_a_due_sweep_removes_stale_and_expired_finished_sessions_and_keeps_rows(
    enabled, no_pause, clock, make_knowledge
):
    stale, _ = new_session(make_knowledge)
    finished, _ = new_session(make_knowledge, "completed")
    clock.tick(STALE)
    _, live_id = new_session(make_knowledge)

    assert sweeper.run_scheduled_sweep() == 2

    assert not has_progress(stale) and not has_progress(finished)
    assert stale.meta == {"host": "kept"} and finished.meta == {"host": "kept"}
    assert services.get_progress(live_id) is not None
    assert get_progress_model().objects.count() == 3
    record = lease()
    assert record.last_removed == 2 and record.last_error == ""
    assert record.holder == "" and record.held_until is None
    assert record.last_started_at == T0 + STALE == record.last_finished_at
    assert record.due_at == T0 + STALE + INTERVAL


@pytest.mark.django_db
def test_the_next_sweep_waits_one_interval(enabled, no_pause, clock, make_knowledge):
    row, _ = new_session(make_knowledge)
    clock.tick(timedelta(seconds=250))
    assert sweeper.run_scheduled_sweep() == 0  # next one due at T0 + 310 s

    clock.tick(INTERVAL - timedelta(seconds=1))  # stale since T0 + 300 s, not yet due
    assert sweeper.run_scheduled_sweep() is None
    assert has_progress(row)

    clock.tick(timedelta(seconds=1))
    assert sweeper.run_scheduled_sweep() == 1
    assert not has_progress(row)


@pytest.mark.django_db
def test_a_held_lease_blocks_others_until_it_expires(enabled, no_pause, clock, make_knowledge):
    CleanupLease.objects.create(
        name=sweeper.LEASE_NAME,
        due_at=T0,
        holder="other-machine:1:abc",
        held_until=T0 + STALE + timedelta(minutes=1),
    )
    row, _ = new_session(make_knowledge)
    clock.tick(STALE)  # still inside the other sweeper's lease
    assert sweeper.run_scheduled_sweep() is None
    assert has_progress(row)

    clock.tick(timedelta(minutes=1))  # the other sweeper died: its lease expired
    assert sweeper.run_scheduled_sweep() == 1
    assert lease().holder == ""


@pytest.mark.django_db
def test_a_sweep_that_lost_its_lease_stops_after_the_batch(
    enabled, monkeypatch, clock, make_knowledge
):
    enabled.PROGRESS_TRACKING = {**enabled.PROGRESS_TRACKING, "CLEANUP_BATCH_SIZE": 1}
    rows = [new_session(make_knowledge)[0] for _ in range(3)]
    clock.tick(STALE)

    def steal(seconds):
        CleanupLease.objects.update(holder="thief", held_until=T0 + timedelta(days=1))

    monkeypatch.setattr(sweeper.time, "sleep", steal)
    assert sweeper.run_scheduled_sweep() == 1
    assert sum(has_progress(row) for row in rows) == 2
    assert lease().holder == "thief"  # the loser never releases what it no longer holds


@pytest.mark.django_db
def test_turning_it_off_stops_a_running_sweep(enabled, monkeypatch, clock, make_knowledge):
    enabled.PROGRESS_TRACKING = {**enabled.PROGRESS_TRACKING, "CLEANUP_BATCH_SIZE": 1}
    for _ in range(3):
        new_session(make_knowledge)
    clock.tick(STALE)

    def turn_off(seconds):
        enabled.PROGRESS_TRACKING = {**enabled.PROGRESS_TRACKING, "AUTO_CLEANUP": False}

    monkeypatch.setattr(sweeper.time, "sleep", turn_off)
    assert sweeper.run_scheduled_sweep() == 1
    assert lease().last_removed == 1


@pytest.mark.django_db
def test_the_sweeper_rests_as_long_as_each_batch_took(enabled, monkeypatch, make_knowledge):
    enabled.PROGRESS_TRACKING = {**enabled.PROGRESS_TRACKING, "CLEANUP_BATCH_SIZE": 1}
    with freeze_time(T0) as clock:
        for _ in range(3):
            new_session(make_knowledge)
        clock.tick(STALE)
        ticks = iter(range(0, 100, 1))  # every monotonic() call is one second later
        monkeypatch.setattr(sweeper.time, "monotonic", lambda: float(next(ticks)))
        pauses = []
        monkeypatch.setattr(sweeper.time, "sleep", pauses.append)
        assert sweeper.run_scheduled_sweep() == 3
    assert pauses == [1.0, 1.0, 1.0]  # at least the minimum, as long as the batch took


@pytest.mark.django_db
def test_a_failing_sweep_is_recorded_releases_the_lease_and_raises(
    enabled, no_pause, clock, monkeypatch
):
    def broken(**kwargs):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(services, "cleanup_stale_progress", broken)
    with pytest.raises(DatabaseError):
        sweeper.run_scheduled_sweep()
    record = lease()
    assert record.last_error == "DatabaseError: disk I/O error"
    assert record.holder == "" and record.held_until is None
    assert record.due_at == T0 + INTERVAL  # retried one interval later


@pytest.mark.django_db
def test_the_sweep_thread_logs_a_failure_instead_of_raising(enabled, monkeypatch, caplog):
    def broken():
        raise DatabaseError("no such table: progress_tracking_cleanuplease")

    monkeypatch.setattr(sweeper, "run_scheduled_sweep", broken)
    thread = threading.Thread(target=sweeper._sweep_in_thread)
    with caplog.at_level(logging.ERROR, logger="progress_tracking.sweeper"):
        thread.start()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert "Automatic cleanup of stale progress failed" in caplog.text
    assert "no such table" in caplog.text


# -- the hooks --------------------------------------------------------------------------------


@pytest.fixture
def started(monkeypatch, enabled):
    """Open this process's gate and record the sweeps it starts (instead of running them)."""
    calls = []
    monkeypatch.setattr(sweeper, "_next_look", 0.0)
    monkeypatch.setattr(sweeper, "_thread", None)
    monkeypatch.setattr(sweeper, "_sweep_in_thread", lambda: calls.append(1))
    return calls


@pytest.mark.django_db
def test_a_poll_starts_at_most_one_sweep_per_interval(
    started, client, user, knowledge, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # signals are sent at commit
        session_id = services.start_session(knowledge, total_files=0)
    sweeper._thread.join()
    assert len(started) == 1
    client.force_login(user)
    for _ in range(3):
        assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 200
    assert len(started) == 1

    sweeper._thread.join()
    sweeper._next_look = 0.0  # one interval later
    assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 200
    sweeper._thread.join()
    assert len(started) == 2


@pytest.mark.django_db
def test_every_progress_write_is_a_trigger(started, knowledge, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        session_id = services.start_session(knowledge, total_files=0)
    for write in (
        lambda: services.update_progress(session_id, 10),
        lambda: services.mark_session_complete(session_id),
    ):
        sweeper._thread.join()  # a process runs one sweep thread at a time
        sweeper._next_look = 0.0
        with django_capture_on_commit_callbacks(execute=True):
            write()
    sweeper._thread.join()
    assert len(started) == 3


def test_a_process_runs_one_sweep_thread_at_a_time(started):
    release = threading.Event()
    running = threading.Thread(target=release.wait)
    running.start()
    sweeper._thread = running
    try:
        sweeper.sweep_if_due()
        assert started == [] and sweeper._thread is running
    finally:
        release.set()
        running.join()
    sweeper.sweep_if_due()
    sweeper._thread.join()
    assert started == [1]


def test_a_lease_that_cannot_be_released_is_logged_and_left_to_expire(caplog):
    class Unreachable:
        def update(self, **values):
            raise DatabaseError("server closed the connection unexpectedly")

    with caplog.at_level(logging.ERROR, logger="progress_tracking.sweeper"):
        sweeper._release(Unreachable(), 5, "")  # type: ignore[arg-type]
    assert "Could not release the automatic cleanup lease" in caplog.text


@pytest.mark.django_db
def test_nothing_starts_when_turned_off(
    started, enabled, client, user, knowledge, django_capture_on_commit_callbacks
):
    enabled.PROGRESS_TRACKING = {**enabled.PROGRESS_TRACKING, "AUTO_CLEANUP": False}
    with django_capture_on_commit_callbacks(execute=True):
        session_id = services.start_session(knowledge, total_files=0)
    client.force_login(user)
    assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 200
    assert started == []


@pytest.mark.django_db
def test_a_trigger_that_cannot_start_a_thread_fails_nothing(
    started, monkeypatch, knowledge, caplog, django_capture_on_commit_callbacks
):
    def no_threads(*args, **kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(sweeper.threading, "Thread", no_threads)
    with (
        caplog.at_level(logging.ERROR, logger="progress_tracking.sweeper"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        session_id = services.start_session(knowledge, total_files=0)
    assert services.get_progress(session_id)["status"] == "processing"
    assert "Could not start the automatic cleanup" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_poll_sweeps_in_a_thread_and_a_failure_never_reaches_the_poll(
    enabled, monkeypatch, client, user, make_knowledge, caplog
):
    monkeypatch.setattr(sweeper.time, "sleep", lambda seconds: None)  # pacing: tested above
    # Real time (the sweep runs in another thread): rows are aged by their updated-at column.
    stale, _ = new_session(make_knowledge, "completed")
    get_progress_model().objects.filter(pk=stale.pk).update(
        progress_updated_at=timezone.now() - STALE
    )
    live = make_knowledge(owner=user)
    session_id = services.start_session(live, total_files=0)
    client.force_login(user)

    monkeypatch.setattr(sweeper, "_next_look", 0.0)
    assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 200
    sweeper._thread.join(timeout=30)
    assert not sweeper._thread.is_alive()
    assert not has_progress(stale)
    assert lease().last_removed == 1

    def broken(**kwargs):
        raise DatabaseError("database disk image is malformed")

    monkeypatch.setattr(services, "cleanup_stale_progress", broken)
    CleanupLease.objects.update(due_at=timezone.now())  # one interval later
    sweeper._next_look = 0.0
    with caplog.at_level(logging.ERROR, logger="progress_tracking.sweeper"):
        assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 200
        sweeper._thread.join(timeout=30)
    assert not sweeper._thread.is_alive()
    assert "database disk image is malformed" in caplog.text
    assert lease().last_error == "DatabaseError: database disk image is malformed"


# -- real processes racing --------------------------------------------------------------------


def run_worker(env, *args):
    done = subprocess.run(
        [sys.executable, "-m", "tests.progress_tracking.sweep_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.multiprocess
@pytest.mark.django_db(transaction=True)
def test_processes_racing_to_sweep_elect_exactly_one(tmp_path):
    racers, sessions = 3, 150
    url = database_url_for_workers(tmp_path, "?timeout=20")
    env = {**os.environ, "DATABASE_URL": url}
    run_worker(env, "seed", str(sessions))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.progress_tracking.sweep_worker", "sweep", str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(racers)
    ]
    go.touch()
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * racers, [err for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    winners = [r for r in results if r["removed"] is not None]
    assert len(winners) == 1, results
    assert winners[0]["removed"] == sessions
    # The losers tried while the winner was sweeping: this was a real race.
    assert any(r["started"] < winners[0]["ended"] for r in results if r is not winners[0])
    shown = json.loads(run_worker(env, "show"))
    assert shown == {"last_removed": sessions, "holder": "", "left": 0}


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ({}, 60),
        ({"AUTO_CLEANUP_INTERVAL": 2.5}, 2.5),
        ({"AUTO_CLEANUP_INTERVAL": 600}, 600),
        ({"FINISHED_TTL": 5}, 5),  # the default shrinks to keep "about one stale period"
        ({"STALE_AFTER": timedelta(seconds=30), "FINISHED_TTL": 40}, 30),
        ({"STALE_AFTER": 30, "AUTO_CLEANUP_INTERVAL": 45}, 45),
    ],
)
def test_sweep_interval(values, seconds):
    with override_settings(PROGRESS_TRACKING=values):
        assert sweeper.interval() == timedelta(seconds=seconds)
