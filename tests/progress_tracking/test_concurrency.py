"""No lost update: real worker processes writing one session at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
WORKERS, FILES_EACH = 8, 50

pytestmark = pytest.mark.multiprocess


def run_worker(env, *args, **kwargs):
    done = subprocess.run(
        [sys.executable, "-m", "tests.progress_tracking.concurrency_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        **kwargs,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def database_url_for_workers(tmp_path, sqlite_query):
    """A database the worker processes can share: a file on SQLite, the test DB otherwise."""
    if connection.vendor == "sqlite":
        url = f"sqlite:///{tmp_path / 'workers.sqlite3'}{sqlite_query}"
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=240,
        )
        return url
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or 'localhost'}:"
        f"{s['PORT'] or 5432}/{s['NAME']}"
    )


@pytest.mark.parametrize(
    "sqlite_query",
    [
        # The host's settings ask for nothing: Python's default 5 s timeout, deferred BEGIN.
        "?timeout=5",
        # What Django's docs advise for concurrent SQLite writers.
        "?transaction_mode=IMMEDIATE&timeout=20",
    ],
    ids=["host-defaults", "host-immediate"],
)
@pytest.mark.django_db(transaction=True)
def test_eight_processes_lose_no_update(tmp_path, sqlite_query):
    if connection.vendor != "sqlite" and sqlite_query != "?timeout=5":
        pytest.skip("SQLite transaction modes only matter on SQLite")
    env = {**os.environ, "DATABASE_URL": database_url_for_workers(tmp_path, sqlite_query)}
    session_id = run_worker(env, "setup")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.progress_tracking.concurrency_worker",
                "work",
                session_id,
                str(worker),
                str(FILES_EACH),
                str(go),
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WORKERS)
    ]
    go.touch()
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * WORKERS, "\n".join(errors)
    assert not any("locked" in e for e in errors)
    progress = json.loads(run_worker(env, "show", session_id))
    assert progress["processed_files"] == WORKERS * FILES_EACH
    assert progress["total_files"] == WORKERS * FILES_EACH
    names = {f["name"] for f in progress["files"]}
    assert names == {f"w{w}-f{i}.txt" for w in range(WORKERS) for i in range(FILES_EACH)}
    assert progress["progress"] == 100
    label = connection.vendor + (sqlite_query if connection.vendor == "sqlite" else "")
    print(
        f"\n{label}: processed_files={progress['processed_files']}, "
        f"file entries={len(names)}, version={progress['version']}"
    )


HOSTS, HOST_SAVES, PROGRESS_WRITERS, PROGRESS_FILES = 4, 40, 4, 15


@pytest.mark.django_db(transaction=True)
def test_host_saves_and_progress_writes_race_without_loss(tmp_path):
    """4 processes save their own older instances (a host field and a host meta key) while 4
    others write progress to every row's session: nothing is lost on either side."""
    env = {**os.environ, "DATABASE_URL": database_url_for_workers(tmp_path, "?timeout=20")}
    rows = json.loads(run_worker(env, "rows", str(HOSTS)))
    sids = ",".join(sid for _, sid in rows)
    go = tmp_path / "go"
    module = "tests.progress_tracking.concurrency_worker"
    commands = [
        ["host", str(pk), str(worker), str(HOST_SAVES), str(go)]
        for worker, (pk, _) in enumerate(rows)
    ] + [
        ["progress", sids, str(worker), str(PROGRESS_FILES), str(go)]
        for worker in range(PROGRESS_WRITERS)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", module, *command],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    go.touch()
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), "\n".join(errors)
    expected_files = PROGRESS_WRITERS * PROGRESS_FILES
    for worker, (pk, sid) in enumerate(rows):
        progress = json.loads(run_worker(env, "show", sid))
        assert progress is not None, "a host save lost the session"
        assert progress["processed_files"] == expected_files
        assert len(progress["files"]) == expected_files
        row = json.loads(run_worker(env, "row", str(pk)))
        assert row["meta"][f"host{worker}"] == HOST_SAVES - 1
        if row["name"] is not None:
            assert row["name"] == f"h{worker}-{HOST_SAVES - 1}"
    print(
        f"\n{connection.vendor}: {HOSTS}x{HOST_SAVES} host saves, "
        f"{PROGRESS_WRITERS}x{PROGRESS_FILES}x{HOSTS} progress writes, nothing lost"
    )
