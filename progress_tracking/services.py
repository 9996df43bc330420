"""The public Python API: every write to progress goes through these functions.

Workers call them from any process; each call is one short transaction on the progress row
(see ``storage``), so concurrent workers lose no update on SQLite or PostgreSQL. This module
is the one public home of each function in ``__all__`` (``get_progress`` included); the
modules it builds on (``writes``, ``cleanup``, ``selectors``, ``storage``) are internal.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import cast
from uuid import UUID

from django.utils import timezone

from . import cache as progress_cache
from . import cleanup, hosts, selectors, signals, state, storage, writes
from .conf import app_settings
from .exceptions import InvalidProgressData, SessionActive
from .models import PROGRESS_KEY, AbstractProgressModel, ProgressStatus
from .payload import Progress
from .storage import Row
from .text import scrubbed

__all__ = [
    "cleanup_stale_progress",
    "clear_progress",
    "get_progress",
    "heartbeat",
    "mark_session_complete",
    "mark_session_error",
    "request_cancel",
    "start_session",
    "update_file_progress",
    "update_progress",
]


def start_session(
    instance: AbstractProgressModel | None = None,
    *,
    total_files: int = 1,
    files: Iterable[str] = (),
    message: str = "",
    join_active: bool = False,
    knowledge: AbstractProgressModel | None = None,
) -> str:
    """Start tracking work on ``instance`` and return the new session id (a UUID4 string).

    ``instance`` is a saved row of any progress model. ``files`` lists the file names to
    track (pending entries); ``total_files`` grows to fit them. On a row whose session is
    still processing (not stale) this raises ``SessionActive``, or with ``join_active=True``
    adds ``files`` to that session and returns its id. Host keys in ``meta`` are kept.

    The session is written in the caller's transaction: if that rolls back, so does the
    session. ``knowledge=`` is the deprecated name of ``instance``.
    """
    if knowledge is not None:
        if instance is not None:
            raise TypeError("start_session() got both instance and knowledge; pass instance.")
        warnings.warn(
            "start_session(knowledge=...) is deprecated; pass the instance as the first "
            "argument: start_session(instance, ...).",
            DeprecationWarning,
            stacklevel=2,
        )
        instance = knowledge
    if not isinstance(instance, AbstractProgressModel) or instance.pk is None:
        raise InvalidProgressData("start_session() needs a saved progress-model instance.")
    model = hosts.host_of(type(instance))
    names = state.check_file_names(files)
    new_id = hosts.new_session_id(model)
    now = timezone.now()
    # Validate before touching the row so bad input never reaches storage.
    fresh = state.new_progress(
        new_id,
        object_id=str(instance.pk),
        total_files=total_files,
        files=names,
        message=message,
        now=now.timestamp(),
    )

    replaced: list[str] = []  # the session this one replaces on the row, if any

    def mutate(row: Row) -> Progress:
        replaced.clear()  # a retried attempt reads the row again
        if not isinstance(row.meta, dict):
            raise writes.not_a_dict(row.meta)
        current = row.meta.get(PROGRESS_KEY)
        if (
            isinstance(current, dict)
            and current.get("status") == ProgressStatus.PROCESSING
            and not selectors.is_stale(ProgressStatus.PROCESSING, row.updated_at, now)
        ):
            if not join_active:
                raise SessionActive(current["session_id"])
            return state.apply_join(cast(Progress, current), names, now=now.timestamp())
        if isinstance(current, dict) and current.get("session_id"):
            replaced.append(current["session_id"])
        return fresh

    try:
        # In the caller's transaction, never on a side connection: a session started by a
        # request or task that then rolls back must vanish with it.
        result = storage.write(model, {"pk": instance.pk}, mutate, now, join_caller=True)
    except storage.RowMissing:
        raise InvalidProgressData(f"{model.__name__} {instance.pk} does not exist.") from None
    progress = result.progress
    assert progress is not None
    # Keep the caller's instance in step with the row, so a later save() of it does not write
    # back a row without this session.
    instance.meta = {
        **(instance.meta if isinstance(instance.meta, dict) else {}),
        PROGRESS_KEY: copy.deepcopy(progress),
    }
    for field, value in storage.progress_columns(progress, now).items():
        setattr(instance, field, value)
    joined = progress["session_id"] != new_id
    if replaced and app_settings.CACHE:
        # The old session is gone from the row: its cached record must read as gone too.
        progress_cache.forget_after_commit(replaced, model)
    writes.send_after_commit(
        signals.progress_updated if joined else signals.progress_started, result, model
    )
    return str(progress["session_id"])


def update_progress(
    session_id: str | UUID,
    progress: float | None = None,
    message: str | None = None,
    **fields: object,
) -> Progress:
    """Set overall progress, message and counts of a processing session."""
    state.check_update_args(progress, message, fields)
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_update(
            current, progress=progress, message=message, fields=fields, now=now
        ),
        signals.progress_updated,
    )


def update_file_progress(
    session_id: str | UUID,
    filename: str,
    *,
    progress: float,
    status: str = "processing",
    message: str | None = None,
    error: str | None = None,
) -> Progress:
    """Record one file's progress; a file that reaches completed/error is counted once."""
    state.check_file_args(filename, progress, status, message)
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_file_update(
            current,
            filename,
            progress=progress,
            status=status,
            message=message,
            error=error,
            now=now,
        ),
        signals.progress_updated,
    )


def mark_session_complete(session_id: str | UUID, message: str | None = None) -> Progress:
    """Finish a session successfully; raises if files are still unfinished."""
    if message is not None:
        state.check_text("message", message)
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_complete(current, message=message, now=now),
        signals.progress_completed,
    )


def mark_session_error(session_id: str | UUID, error: object) -> Progress:
    """Finish a session as failed. A long error text is truncated, never refused."""
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_error(current, error=error, now=now),
        signals.progress_failed,
    )


def request_cancel(session_id: str | UUID) -> Progress:
    """Cancel a session: it ends ``cancelled`` now, with its unfinished files.

    Returns the stored dict. A session that already finished is left as it is (its status
    tells which way it ended). The worker learns of the cancel from its next write:
    ``ProgressRecorder`` then raises ``ProgressCancelled``; a worker calling the services
    directly sees ``status == "cancelled"`` in what they return. ``progress_cancelled`` is
    sent after the commit.
    """
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_cancel(current, now=now),
        signals.progress_cancelled,
    )


def heartbeat(session_id: str | UUID) -> Progress:
    """Refresh ``last_updated`` of a processing session so a live worker never looks stale."""
    return writes.write_session(
        session_id,
        lambda current, now: state.apply_heartbeat(current, now=now),
        signals.progress_updated,
    )


def get_progress(session_id: str | UUID) -> Progress | None:
    """The whole progress dict of a session, or None if unknown, malformed or stale.

    Text that older releases stored but UTF-8 cannot encode comes back replaced (U+FFFD).
    """
    record = selectors.live_session(session_id)
    return scrubbed(record.progress) if record else None


def clear_progress(session_id: str | UUID) -> bool:
    """Remove a session's progress from its row (the row stays). False if there was none."""
    uuid_ = selectors.parse_session_id(session_id)
    return uuid_ is not None and cleanup.clear_session(uuid_)


def cleanup_stale_progress(
    *,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    between_batches: Callable[[int], bool] | None = None,
) -> int:
    """Remove stale progress (rows stay) of every host model in batches; return how many went.

    Without ``older_than``, processing sessions older than ``STALE_AFTER`` and finished ones
    older than ``FINISHED_TTL`` go; with it, any session not updated for that long. Each batch
    is one UPDATE in its own short transaction that re-checks staleness, so a session a worker
    revives meanwhile is kept. ``between_batches(removed_so_far)`` runs after each batch;
    returning False stops the sweep there (the automatic sweeper renews its lease in it).
    """
    if older_than is not None and (
        not isinstance(older_than, timedelta) or older_than < timedelta(0)
    ):
        raise InvalidProgressData("older_than must be a non-negative timedelta.")
    return cleanup.remove_stale(
        timezone.now(),
        older_than=older_than,
        dry_run=dry_run,
        batch_size=batch_size or app_settings.CLEANUP_BATCH_SIZE,
        between_batches=between_batches,
    )
