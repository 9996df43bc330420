"""Worker process of the write-path and browser scenarios (``python -m tests.benchmarks.writer``).

Subcommands (the database comes from ``DATABASE_URL``, settings from the environment):

- ``prepare``: create the rows and sessions the write scenario uses; print them as JSON.
- ``prepare-poll USER PASSWORD``: create a user and a polled session; print its id as JSON.
- ``prepare-spread USER COUNT FILE``: COUNT processing sessions of an existing user, with
  three files each like the polled one; write "path<TAB>capability<TAB>ETag" per session to
  FILE (``wrk_spread.lua``).
- ``inspect SESSION``: print the session's stored ``version`` as JSON.
- ``run --mode M ...``: print ``ready``, wait for ``go`` on stdin, write for ``--duration``
  seconds as fast as possible, print the counts as JSON.
- ``keepalive SESSION``: keep a session processing with a write every ``--interval``
  seconds, for at most ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def setup() -> None:
    import django

    django.setup()


def prepare() -> dict:
    from progress_tracking.models import Knowledge
    from progress_tracking.services import start_session

    file_row = Knowledge.objects.create(name="writes: files", meta={"source": "benchmark"})
    file_session = start_session(file_row, files=[f"w{k}" for k in range(8)], message="Queued")
    plain_row = Knowledge.objects.create(name="writes: plain", meta={"source": "benchmark"})
    plain_session = start_session(plain_row, total_files=8, message="Queued")
    # The baseline rewrites the same bytes a file update writes, without reading or locking.
    file_row.refresh_from_db()
    bare_row = Knowledge.objects.create(name="writes: bare", meta=file_row.meta)
    return {"file_session": file_session, "plain_session": plain_session, "bare_pk": bare_row.pk}


def prepare_poll(username: str, password: str) -> dict:
    from django.contrib.auth import get_user_model

    from .scenario_poll import create_polled_session

    user = get_user_model().objects.create_user(username, password=password)
    return {"session_id": create_polled_session(user)}


def prepare_spread(username: str, count: int, path: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from progress_tracking.capability import sign_read_capability
    from progress_tracking.conf import app_settings
    from progress_tracking.models import Knowledge
    from progress_tracking.selectors import get_progress
    from progress_tracking.services import start_session
    from progress_tracking.views import status_etag

    user = get_user_model().objects.get(username=username)
    rows = Knowledge.objects.bulk_create(
        Knowledge(name=f"Spread {k}", user=user, meta={"source": "benchmark"}) for k in range(count)
    )
    lines = []
    for row in rows:
        session_id = start_session(
            row, files=["interview.wav", "slides.pdf", "notes.md"], message="Transcribing"
        )
        url = reverse("progress_tracking:status", kwargs={"session_id": session_id})
        etag = status_etag(get_progress(session_id) or {}, app_settings.FILES_LIMIT)
        lines.append(f"{url}\t{sign_read_capability(session_id, user.pk)}\t{etag}\n")
    with open(path, "w") as out:
        out.writelines(lines)
    return {"sessions": count, "file": path}


def inspect(session_id: str) -> dict:
    from progress_tracking import cache
    from progress_tracking.services import get_progress

    progress = get_progress(session_id) or {}
    found = {"version": progress.get("version"), "status": progress.get("status")}
    store = cache.get_cache()
    if store is not None:  # what polls would read: the version the writes left in the cache
        record = cache.read(store, session_id)
        found["cached_version"] = None if record is None else record.version
    return found


def make_writer(mode: str, session: str, pk: int, worker: int):
    """One write of the given kind, as a callable taking the iteration number."""
    from django.utils import timezone

    from progress_tracking.models import Knowledge
    from progress_tracking.services import update_file_progress, update_progress

    name = f"w{worker}"
    if mode == "bare":
        meta = Knowledge.objects.values_list("meta", flat=True).get(pk=pk)
        rows = Knowledge.objects.filter(pk=pk)
        return lambda i: rows.update(meta=meta, progress_updated_at=timezone.now())
    if mode == "update_progress":
        return lambda i: update_progress(session, progress=i % 100, message=f"Step {i}")
    if mode == "update_file_progress":
        return lambda i: update_file_progress(
            session, name, progress=(i % 99) + 0.5, message=f"Chunk {i}"
        )
    raise SystemExit(f"unknown mode {mode!r}")


def run(args: argparse.Namespace) -> dict:
    from django.db import connection

    if args.mode == "recorder":
        from progress_tracking.recorder import ProgressRecorder

        recorder = ProgressRecorder(args.session)
        name = f"w{args.worker}"
        write = None
    else:
        write = make_writer(args.mode, args.session, args.pk, args.worker)
        write(0)  # connect and warm up before the clock starts
    connection.ensure_connection()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")
    count = 0
    start = time.perf_counter()
    deadline = start + args.duration
    if write is not None:
        while time.perf_counter() < deadline:
            count += 1
            write(count)
    else:
        with recorder:
            while time.perf_counter() < deadline:
                count += 1
                recorder.file(name, progress=(count % 99) + 0.5, message=f"Chunk {count}")
    elapsed = time.perf_counter() - start
    writes = recorder.writes if write is None else count
    return {"calls": count, "db_writes": writes, "seconds": elapsed}


def keepalive(args: argparse.Namespace) -> None:
    """A background worker: the session changes every ``interval`` s and never goes stale."""
    import signal

    from progress_tracking.services import update_file_progress

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + args.duration
    i = 0
    while not stop and time.monotonic() < deadline:
        i += 1
        update_file_progress(
            args.session, "interview.wav", progress=i % 99, message=f"Transcribing chunk {i}"
        )
        time.sleep(args.interval)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare")
    p = sub.add_parser("prepare-poll")
    p.add_argument("username")
    p.add_argument("password")
    p = sub.add_parser("prepare-spread")
    p.add_argument("username")
    p.add_argument("count", type=int)
    p.add_argument("file")
    p = sub.add_parser("inspect")
    p.add_argument("session")
    p = sub.add_parser("run")
    p.add_argument(
        "--mode",
        required=True,
        choices=["bare", "update_progress", "update_file_progress", "recorder"],
    )
    p.add_argument("--session", default="")
    p.add_argument("--pk", type=int, default=0)
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--duration", type=float, default=3)
    p = sub.add_parser("keepalive")
    p.add_argument("session")
    p.add_argument("--interval", type=float, default=0.4)
    p.add_argument("--duration", type=float, default=600)
    args = parser.parse_args()
    setup()
    if args.command == "prepare":
        print(json.dumps(prepare()), flush=True)
    elif args.command == "prepare-poll":
        print(json.dumps(prepare_poll(args.username, args.password)), flush=True)
    elif args.command == "prepare-spread":
        print(json.dumps(prepare_spread(args.username, args.count, args.file)), flush=True)
    elif args.command == "inspect":
        print(json.dumps(inspect(args.session)), flush=True)
    elif args.command == "run":
        print(json.dumps(run(args)), flush=True)
    else:
        keepalive(args)


if __name__ == "__main__":
    main()
