"""Removing progress from rows (the rows stay): one session, or every stale one in batches.

``services.clear_progress`` and ``services.cleanup_stale_progress`` are the public functions;
the automatic sweep (``sweeper``) and ``manage.py cleanup_progress`` call the latter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Model

from . import cache as progress_cache
from . import hosts, selectors, storage
from .conf import app_settings


def clear_session(session_id: UUID) -> bool:
    """Remove the session's progress from whichever host model holds it."""

    def clear_in(model: type[Model]) -> bool | None:
        rows = hosts.manager(model).filter(progress_session_id=session_id)
        if not rows.update(**storage.cleared_values()):
            return None
        progress_cache.sync_after_commit(session_id, model)
        return True

    return bool(hosts.first_found(session_id, clear_in))


def remove_stale(
    now: datetime,
    *,
    older_than: timedelta | None,
    dry_run: bool,
    batch_size: int,
    between_batches: Callable[[int], bool] | None,
) -> int:
    """Remove stale progress of every host model, one UPDATE per batch; return how many went.

    Each UPDATE re-checks staleness, so a session that a worker revives meanwhile is kept.
    """
    removed = 0
    for model in hosts.progress_models():
        manager = hosts.manager(model)
        stale = manager.filter(selectors.stale_filter(now, older_than))
        if dry_run:
            removed += stale.count()
            continue
        while batch := list(stale.values_list("pk", "progress_session_id")[:batch_size]):
            removed += stale.filter(pk__in=[pk for pk, _ in batch]).update(
                **storage.cleared_values()
            )
            if app_settings.CACHE:
                _forget_removed([sid for _, sid in batch], manager)
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
