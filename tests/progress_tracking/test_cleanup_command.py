"""``manage.py cleanup_progress``: what it removes, what it keeps, how it reports and fails."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from progress_tracking import services
from progress_tracking.models import PROGRESS_KEY, get_progress_model

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
FIVE_MINUTES = timedelta(seconds=300)
MICROSECOND = timedelta(microseconds=1)


def run(*args, **options):
    out = StringIO()
    call_command("cleanup_progress", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def override(settings, **values):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, **values}


@pytest.fixture
def clock():
    with freeze_time(T0) as frozen:
        yield frozen


@pytest.fixture
def start(make_knowledge, clock):
    """Start a session on a new row; ``status`` finishes it at once."""

    def start(status="processing", meta=None):
        row = make_knowledge(meta=meta or {})
        sid = services.start_session(row, total_files=0)
        if status == "completed":
            services.mark_session_complete(sid)
        elif status == "error":
            services.mark_session_error(sid, "boom")
        return row, sid

    return start


def has_progress(row):
    row.refresh_from_db()
    return PROGRESS_KEY in row.meta or row.progress_session_id is not None


def progress_updates(queries):
    table = get_progress_model()._meta.db_table
    return [q for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_removes_stale_progress_and_keeps_the_row_and_host_keys(start, clock):
    stale, stale_id = start(meta={"source": "upload", "tags": ["x"]})
    clock.tick(FIVE_MINUTES + timedelta(seconds=1))
    _, fresh_id = start()
    rows = get_progress_model().objects.count()

    out = run()

    assert out == ("Removed 1 stale progress session (processing > 300s, finished > 300s).\n")
    assert get_progress_model().objects.count() == rows
    stale.refresh_from_db()
    assert stale.meta == {"source": "upload", "tags": ["x"]}
    assert stale.progress_session_id is None
    assert stale.progress_status == "" and stale.progress_updated_at is None
    assert services.get_progress(stale_id) is None
    assert services.get_progress(fresh_id)["status"] == "processing"


def test_rows_without_progress_are_left_alone(make_knowledge, start, clock):
    plain = make_knowledge(meta={"host": 1})
    start()
    clock.tick(timedelta(hours=1))
    assert run().startswith("Removed 1 stale progress session ")
    plain.refresh_from_db()
    assert plain.meta == {"host": 1}


@pytest.mark.parametrize("status", ["processing", "completed", "error"])
def test_age_of_exactly_the_period_is_not_stale_a_microsecond_more_is(start, clock, status):
    row, _ = start(status)
    clock.tick(FIVE_MINUTES)
    assert run() == f"Removed 0 stale progress sessions ({run_period()}).\n"
    assert has_progress(row)
    clock.tick(MICROSECOND)
    assert run().startswith("Removed 1 stale progress session ")
    assert not has_progress(row)


def run_period():
    return "processing > 300s, finished > 300s"


def test_stale_after_applies_to_processing_and_finished_ttl_to_finished(start, clock, settings):
    override(settings, STALE_AFTER=120, FINISHED_TTL=timedelta(seconds=30))
    running, _ = start()
    done, _ = start("completed")
    failed, _ = start("error")

    clock.tick(timedelta(seconds=30))
    assert run() == ("Removed 0 stale progress sessions (processing > 120s, finished > 30s).\n")
    clock.tick(MICROSECOND)
    assert run().startswith("Removed 2 stale progress sessions ")
    assert has_progress(running)
    assert not has_progress(done) and not has_progress(failed)

    clock.tick(timedelta(seconds=90) - MICROSECOND)
    assert run().startswith("Removed 0 ")
    clock.tick(MICROSECOND)
    assert run().startswith("Removed 1 stale progress session ")
    assert not has_progress(running)


def test_finished_ttl_counts_from_when_the_session_finished(start, clock):
    _, sid = start()
    clock.tick(timedelta(seconds=250))
    services.mark_session_complete(sid)
    clock.tick(timedelta(seconds=250))  # 500 s after the start, 250 s after finishing
    assert run().startswith("Removed 0 ")
    assert services.get_progress(sid)["status"] == "completed"


def test_older_than_replaces_both_periods(start, clock):
    running, _ = start()
    done, _ = start("completed")
    clock.tick(timedelta(seconds=10))
    young, _ = start()

    assert run("--older-than", "10") == "Removed 0 stale progress sessions (older than 10s).\n"
    clock.tick(MICROSECOND)
    assert run("--older-than", "10") == "Removed 2 stale progress sessions (older than 10s).\n"
    assert not has_progress(running) and not has_progress(done)
    assert has_progress(young)
    clock.tick(timedelta(seconds=1))
    assert run("--older-than=0.5") == "Removed 1 stale progress session (older than 0.5s).\n"
    assert not has_progress(young)


def test_older_than_zero_removes_everything_not_updated_at_this_instant(start, clock):
    start()
    assert run("--older-than", "0").startswith("Removed 0 ")
    clock.tick(MICROSECOND)
    assert run("--older-than", "0").startswith("Removed 1 ")


def test_dry_run_counts_and_changes_nothing(start, clock):
    rows = [start()[0], start("completed")[0]]
    clock.tick(timedelta(hours=2))
    before = [get_progress_model().objects.get(pk=r.pk).meta for r in rows]
    with CaptureQueriesContext(connection) as queries:
        out = run("--dry-run")
    assert out == ("Would remove 2 stale progress sessions (processing > 300s, finished > 300s).\n")
    assert progress_updates(queries) == []
    assert [get_progress_model().objects.get(pk=r.pk).meta for r in rows] == before
    assert run("--dry-run", "--older-than", "60").startswith("Would remove 2 ")
    assert run().startswith("Removed 2 ")
    assert run("--dry-run") == (
        "Would remove 0 stale progress sessions (processing > 300s, finished > 300s).\n"
    )


@pytest.mark.parametrize(
    ("args", "updates"), [(["--batch-size", "2"], 3), (["--batch-size", "5"], 1), ([], 1)]
)
def test_sweeps_in_batches_one_update_per_batch(start, clock, args, updates):
    rows = [start()[0] for _ in range(5)]
    clock.tick(timedelta(minutes=10))
    _, fresh_id = start()
    with CaptureQueriesContext(connection) as queries:
        out = run(*args)
    assert out.startswith("Removed 5 stale progress sessions ")
    assert len(progress_updates(queries)) == updates
    assert not any(has_progress(r) for r in rows)
    assert services.get_progress(fresh_id) is not None


def test_batch_size_defaults_to_the_cleanup_batch_size_setting(start, clock, settings):
    override(settings, CLEANUP_BATCH_SIZE=2)
    for _ in range(5):
        start()
    clock.tick(timedelta(minutes=10))
    with CaptureQueriesContext(connection) as queries:
        assert run().startswith("Removed 5 ")
    assert len(progress_updates(queries)) == 3


@pytest.mark.django_db(transaction=True)
def test_each_batch_commits_on_its_own(make_knowledge):
    with freeze_time(T0) as clock:
        for _ in range(4):
            services.start_session(make_knowledge(), total_files=0)
        clock.tick(timedelta(minutes=10))
        in_transaction = []

        def watch(execute, sql, params, many, context):
            if sql.startswith("UPDATE"):
                in_transaction.append(connection.in_atomic_block)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(watch):
            assert run("--batch-size", "2").startswith("Removed 4 ")
    # Autocommit: each UPDATE is its own short transaction, not one around the whole sweep.
    assert in_transaction == [False, False]


def test_a_session_revived_between_selection_and_update_is_kept(start, clock):
    _, revived_id = start()
    dead, _ = start()
    clock.tick(FIVE_MINUTES + timedelta(seconds=1))
    table = get_progress_model()._meta.db_table
    calls = []

    def revive_before_the_first_update(execute, sql, params, many, context):
        if not calls and sql.startswith("UPDATE") and table in sql:
            calls.append(sql)
            # A worker's write that began before the session went stale commits after the
            # stale ids were selected (a write after that is refused: see test_stale.py).
            get_progress_model()._base_manager.filter(progress_session_id=revived_id).update(
                progress_updated_at=datetime.now(UTC)
            )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(revive_before_the_first_update):
        out = run()
    assert calls, "the sweep made no UPDATE"
    assert out.startswith("Removed 1 stale progress session ")
    assert services.get_progress(revived_id)["status"] == "processing"
    assert not has_progress(dead)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--older-than", "abc"], "'abc' is not a number of seconds"),
        (["--older-than", ""], "is not a number of seconds"),
        (["--older-than", "-1"], "must be between 0 and"),
        (["--older-than", "nan"], "must be between 0 and"),
        (["--older-than", "inf"], "must be between 0 and"),
        (["--older-than", "1e10"], "must be between 0 and"),
        (["--older-than"], "expected one argument"),
        (["--batch-size", "0"], "must be at least 1"),
        (["--batch-size", "1.5"], "is not an integer"),
        (["--batch-size", "x"], "is not an integer"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["extra"], "unrecognized arguments: extra"),
    ],
)
def test_bad_arguments_raise_a_command_error(db, argv, says):
    with pytest.raises(CommandError, match=r"^Error: ") as info:
        run(*argv)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"older_than": -5}, "must be between 0 and"),
        ({"older_than": "abc"}, "is not a number of seconds"),
        ({"batch_size": 0}, "must be at least 1"),
    ],
)
def test_bad_keyword_options_raise_a_command_error_too(db, options, says):
    with pytest.raises(CommandError, match=says):
        run(**options)


def test_keyword_options_work(start, clock):
    start()
    clock.tick(timedelta(seconds=61))
    assert run(older_than=60, batch_size=1) == (
        "Removed 1 stale progress session (older than 60s).\n"
    )


def test_database_errors_become_one_line_command_errors(db, monkeypatch):
    def broken(**kwargs):
        raise OperationalError('relation "x" does not exist\nLINE 1: SELECT ...')

    monkeypatch.setattr(
        "progress_tracking.management.commands.cleanup_progress.cleanup_stale_progress", broken
    )
    with pytest.raises(CommandError) as info:
        run()
    assert str(info.value) == (
        'Database error, nothing more was removed: relation "x" does not exist'
    )


# On the command line: a real process, against a file database it can see.


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    database = tmp_path_factory.mktemp("cleanup") / "cli.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    manage("migrate", "-v0", env=env, check=True)
    return env


def manage(*args, env, check=False):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def test_command_line_run_prints_its_summary(cli_env):
    done = manage("cleanup_progress", "--dry-run", env=cli_env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "Would remove 0 stale progress sessions (processing > 300s, finished > 300s).\n"
    )
    done = manage("cleanup_progress", "--older-than", "60", "--batch-size", "10", env=cli_env)
    assert (done.returncode, done.stdout) == (
        0,
        "Removed 0 stale progress sessions (older than 60s).\n",
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--older-than", "abc"], "argument --older-than: 'abc' is not a number of seconds"),
        (["--older-than", "-3"], "argument --older-than: '-3' must be between 0 and"),
        (["--batch-size", "0"], "argument --batch-size: '0' must be at least 1"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_command_line_bad_arguments_fail_with_one_readable_line(cli_env, argv, says):
    done = manage("cleanup_progress", *argv, env=cli_env)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("manage.py cleanup_progress: error: ")
    assert says in lines[0]
    assert "Traceback" not in done.stderr
