"""The public Python API: every write to progress goes through these functions.

Workers call them from any process; each call is one short transaction on the progress row
(see ``storage``), so concurrent workers lose no update on SQLite or PostgreSQL.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from django.db import transaction
from django.db.models import Model
from django.dispatch import Signal
from django.utils import timezone

from . import cache as progress_cache
from . import history, hosts, signals, state, storage
from .conf import app_settings
from .exceptions import InvalidProgressData, SessionActive, SessionNotFound, SessionStale
from .models import PROGRESS_KEY, AbstractProgressModel, ProgressStatus
from .payload import Progress
from .selectors import get_progress, is_stale, parse_session_id, stale_filter
from .storage import Row

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


def _stored(row: Row, session_id: str | None = None) -> Progress:
    """The row's progress dict; with a session id, only if it belongs to that session."""
    if not isinstance(row.meta, dict):
        raise _not_a_dict(row.meta)
    progress = row.meta.get(PROGRESS_KEY)
    if not isinstance(progress, dict) or (
        session_id is not None and progress.get("session_id") != session_id
    ):
        raise SessionNotFound(session_id)
    return cast(Progress, progress)  # what the services stored


def _not_a_dict(meta: object) -> InvalidProgressData:
    return InvalidProgressData(
        f"meta of this row is a {type(meta).__name__}, not a dict; "
        "progress can only be stored in a dict."
    )


def _session_write(
    session_id: str | UUID,
    change: Callable[[Progress, float], Progress | None],
    signal: Signal | Callable[[Progress], Signal],
) -> Progress:
    """Apply ``change`` to a session's stored dict; final sessions are left as they are."""
    uuid_ = parse_session_id(session_id)
    if uuid_ is None:
        raise SessionNotFound(session_id)
    sid = str(uuid_)
    now = timezone.now()

    def mutate(row: Row) -> Progress | None:
        current = _stored(row, sid)
        # Readers already answer 404 for it (and a poller told its user the work stopped):
        # a late write must not bring it back.
        if is_stale(str(current.get("status")), row.updated_at, now):
            raise SessionStale(session_id)
        if state.is_final(current):
            return None
        return change(current, now.timestamp())

    def write_in(model: type[Model]) -> tuple[type[Model], storage.WriteResult] | None:
        try:
            return model, storage.write(model, {"progress_session_id": uuid_}, mutate, now)
        except storage.RowMissing:
            return None  # not in this host model

    found = hosts.first_found(uuid_, write_in)
    if found is None:
        raise SessionNotFound(session_id)
    model, result = found
    assert result.progress is not None
    if result.changed:
        chosen = signal if isinstance(signal, Signal) else signal(result.progress)
        _send_after_commit(chosen, result, model)
    return copy.deepcopy(result.progress)


def _send_after_commit(signal: Signal, result: storage.WriteResult, model: type[Model]) -> None:
    progress = copy.deepcopy(result.progress)
    assert progress is not None

    def send() -> None:
        # The fast read path's cache follows every committed write (no-op without a cache).
        progress_cache.sync_session(progress["session_id"], model)
        if state.is_final(progress):
            # Any final status (FINAL_STATUSES), once its write has committed: see history.
            history.record_finished(model, progress)
        signal.send(sender=model, session_id=progress["session_id"], progress=progress)

    if result.committed:
        send()
    else:
        transaction.on_commit(send, using=result.alias)


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
            raise _not_a_dict(row.meta)
        current = row.meta.get(PROGRESS_KEY)
        if (
            isinstance(current, dict)
            and current.get("status") == ProgressStatus.PROCESSING
            and not is_stale(ProgressStatus.PROCESSING, row.updated_at, now)
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
    _send_after_commit(
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
    return _session_write(
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
    return _session_write(
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
    return _session_write(
        session_id,
        lambda current, now: state.apply_complete(current, message=message, now=now),
        signals.progress_completed,
    )


def mark_session_error(session_id: str | UUID, error: object) -> Progress:
    """Finish a session as failed. A long error text is truncated, never refused."""
    return _session_write(
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
    return _session_write(
        session_id,
        lambda current, now: state.apply_cancel(current, now=now),
        signals.progress_cancelled,
    )


def heartbeat(session_id: str | UUID) -> Progress:
    """Refresh ``last_updated`` of a processing session so a live worker never looks stale."""
    return _session_write(
        session_id,
        lambda current, now: state.apply_heartbeat(current, now=now),
        signals.progress_updated,
    )


def clear_progress(session_id: str | UUID) -> bool:
    """Remove a session's progress from its row (the row stays). False if there was none."""
    uuid_ = parse_session_id(session_id)
    if uuid_ is None:
        return False

    def clear_in(model: type[Model]) -> bool | None:
        rows = model._default_manager.filter(progress_session_id=uuid_)
        if not rows.update(**storage.cleared_values()):
            return None
        progress_cache.sync_after_commit(uuid_, model)
        return True

    return bool(hosts.first_found(uuid_, clear_in))


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
    size = batch_size or app_settings.CLEANUP_BATCH_SIZE
    now = timezone.now()
    removed = 0
    for model in hosts.progress_models():
        stale = model._default_manager.filter(stale_filter(now, older_than))
        if dry_run:
            removed += stale.count()
            continue
        while batch := list(stale.values_list("pk", "progress_session_id")[:size]):
            removed += stale.filter(pk__in=[pk for pk, _ in batch]).update(
                **storage.cleared_values()
            )
            if app_settings.CACHE:
                _forget_removed([sid for _, sid in batch], model._default_manager)
            if between_batches is not None and not between_batches(removed):
                return removed
    return removed


def _forget_removed(session_ids: list[UUID | None], manager: Any) -> None:
    """Tombstone the cached records of the sessions this batch removed (one query)."""
    kept = set(
        manager.filter(progress_session_id__in=session_ids).values_list(
            "progress_session_id", flat=True
        )
    )
    progress_cache.forget_sessions([sid for sid in session_ids if sid not in kept])
