"""History of finished sessions: written when a final write commits, pruned after retention.

A record is written after the final write has committed, never inside it:

- the final write may commit on its own connection (PostgreSQL, a caller inside its own
  transaction), so a record written in the caller's transaction could outlive or lose a
  final state it does not match; after commit, a record exists only for a committed end;
- the progress row stays locked for one short UPDATE, not for an extra INSERT and the owner
  lookup;
- a history that cannot be written (a full disk, a missing migration) is logged and never
  turns the worker's final report into an error.

The price: a process that dies between the commit and the INSERT loses that one record.
Records are idempotent (one per session id), so a repeated final signal writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import Model
from django.utils import timezone

from . import hosts
from .conf import app_settings
from .exceptions import InvalidProgressData
from .models import ProgressHistory

logger = logging.getLogger(__name__)


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _owner_id(model: type[Model], object_id: object) -> str:
    attname = hosts.owner_attname(model)
    if attname is None or object_id is None:
        return ""
    owner = hosts.manager(model).filter(pk=object_id).values_list(attname, flat=True).first()
    return "" if owner is None else str(owner)


def history_record(model: type[Model], progress: Mapping[str, Any]) -> ProgressHistory:
    """The (unsaved) history record of a finished session of ``model``."""
    started = _moment(progress.get("started_at"))
    finished = _moment(progress.get("finished_at")) or timezone.now()
    object_id = progress.get("object_id")
    return ProgressHistory(
        session_id=progress["session_id"],
        model_label=model._meta.label,
        object_id="" if object_id is None else str(object_id),
        owner_id=_owner_id(model, object_id),
        status=str(progress.get("status", "")),
        started_at=started,
        finished_at=finished,
        duration_seconds=(finished - started).total_seconds() if started else None,
        total_files=int(progress.get("total_files") or 0),
        failed_files=int(progress.get("failed_files") or 0),
        message=str(progress.get("message") or ""),
        error=str(progress.get("error") or ""),
    )


def record_finished(model: type[Model], progress: Mapping[str, Any]) -> None:
    """Write the history record of a session that just became final (once per session)."""
    if not app_settings.HISTORY:
        return
    try:
        record = history_record(model, progress)
        ProgressHistory._default_manager.bulk_create([record], ignore_conflicts=True)
    except DatabaseError:
        logger.exception("Could not record the history of session %s.", progress.get("session_id"))


def prune_history(
    *,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    between_batches: Callable[[int], bool] | None = None,
) -> int:
    """Delete history records finished longer than ``HISTORY_RETENTION`` ago, in batches.

    Each batch is one DELETE of at most ``batch_size`` (``CLEANUP_BATCH_SIZE``) records;
    ``between_batches(removed_so_far)`` returning False stops there. Returns how many went
    (or, with ``dry_run``, would go).
    """
    if older_than is not None and (
        not isinstance(older_than, timedelta) or older_than < timedelta(0)
    ):
        raise InvalidProgressData("older_than must be a non-negative timedelta.")
    cutoff = timezone.now() - (older_than if older_than is not None else retention())
    old = ProgressHistory._default_manager.filter(finished_at__lt=cutoff)
    if dry_run:
        return old.count()
    size = batch_size or app_settings.CLEANUP_BATCH_SIZE
    removed = 0
    while pks := list(old.order_by("finished_at").values_list("pk", flat=True)[:size]):
        removed += ProgressHistory._default_manager.filter(pk__in=pks).delete()[0]
        if between_batches is not None and not between_batches(removed):
            break
    return removed


def retention() -> timedelta:
    value: timedelta = app_settings.HISTORY_RETENTION
    return value
