"""Reads: finding sessions by id, staleness, the caller's running sessions.

Every lookup goes through the indexed ``progress_*`` columns, never a JSON-key lookup; which
host model holds a session is decided by ``hosts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast
from uuid import UUID

from django.db.models import Model, Q
from django.utils import timezone

from . import hosts
from .conf import app_settings
from .deprecation import moved_names
from .models import FINAL_STATUSES, PROGRESS_KEY, ProgressStatus
from .payload import Progress

# Most running sessions one list answer shows (newest first); the API's schema says so too.
LIST_LIMIT = 50


def parse_session_id(session_id: object) -> UUID | None:
    if isinstance(session_id, UUID):
        return session_id
    if isinstance(session_id, str):
        try:
            return UUID(session_id)
        except ValueError:
            return None
    return None


def is_stale(status: str, updated_at: datetime | None, now: datetime | None = None) -> bool:
    """Stale means age strictly greater than the period for the session's state."""
    if updated_at is None:
        return True
    period = app_settings.FINISHED_TTL if status in FINAL_STATUSES else app_settings.STALE_AFTER
    return (now or timezone.now()) - updated_at > period


def stale_filter(now: datetime, older_than: timedelta | None = None) -> Q:
    """Rows whose progress is stale, as a filter whose range part uses the updated-at index."""
    processing_age = older_than if older_than is not None else app_settings.STALE_AFTER
    finished_age = older_than if older_than is not None else app_settings.FINISHED_TTL
    processing_cut = now - processing_age
    finished_cut = now - finished_age
    return Q(progress_updated_at__lt=max(processing_cut, finished_cut)) & (
        Q(progress_status=ProgressStatus.PROCESSING, progress_updated_at__lt=processing_cut)
        | Q(progress_status__in=FINAL_STATUSES, progress_updated_at__lt=finished_cut)
    )


def live_progress(meta: object, status: str, updated_at: datetime | None) -> Progress | None:
    """The progress dict of ``meta`` just read from the database, or None when absent or stale.

    ``meta`` was decoded from the row for this call alone, so its dict is already a copy that
    nothing else holds: a deep copy would only cost every poll time (15-20 µs).
    """
    if not isinstance(meta, dict) or is_stale(status, updated_at):
        return None
    progress = meta.get(PROGRESS_KEY)
    # A dict under PROGRESS_KEY is what the services stored.
    return cast(Progress, progress) if isinstance(progress, dict) else None


@dataclass(frozen=True)
class SessionRecord:
    """What the API needs to answer a poll, fetched in one query."""

    progress: Progress
    owner_id: object
    model: type[Model] | None = None
    # When the row was last written (the fast path's cache derives the expiry from it).
    updated_at: datetime | None = None


def _live_record(session_id: object, *, with_owner: bool) -> SessionRecord | None:
    """The live session and its row's owner: one indexed query in the common case."""
    uuid = parse_session_id(session_id)
    if uuid is None:
        return None

    def ask(model: type[Model]) -> tuple[SessionRecord | None] | None:
        owner = hosts.owner_attname(model) if with_owner else None
        rows = (
            hosts.manager(model)
            .filter(progress_session_id=uuid)
            .values_list(
                "meta", "progress_status", "progress_updated_at", *([owner] if owner else [])
            )
        )
        # The session id is unique: no ORDER BY (which .first() would add) is needed.
        row = next(iter(rows[:1]), None)
        if row is None:
            return None  # not in this model: ask the next one
        progress = live_progress(*row[:3])
        if progress is None:
            return (None,)  # found but stale: no other model holds it
        return (SessionRecord(progress, row[3] if owner else None, model, row[2]),)

    found = hosts.first_found(uuid, ask)
    return found[0] if found else None


def live_session(session_id: object) -> SessionRecord | None:
    """The live session (``services.get_progress`` reads it), without its owner."""
    return _live_record(session_id, with_owner=False)


def session_for_api(session_id: object) -> SessionRecord | None:
    """The live session and its row's owner, for the API's permission check."""
    return _live_record(session_id, with_owner=True)


def running_progress_for(user: object, *, limit: int) -> list[Progress]:
    """The user's sessions still processing and not stale, newest first (one query a model)."""
    if not getattr(user, "is_authenticated", False):
        return []
    cut = timezone.now() - app_settings.STALE_AFTER
    found: list[tuple[datetime, Progress]] = []
    for model in hosts.progress_models():
        owner = hosts.owner_field(model)
        if owner is None:
            continue
        rows = (
            hosts.manager(model)
            .filter(
                **{owner: user},
                progress_status=ProgressStatus.PROCESSING,
                progress_updated_at__gte=cut,
            )
            .order_by("-progress_updated_at")
            .values_list("progress_updated_at", "meta")[:limit]
        )
        found += [
            (at, meta[PROGRESS_KEY])
            for at, meta in rows
            if isinstance(meta, dict) and PROGRESS_KEY in meta
        ]
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [progress for _, progress in found[:limit]]


if not TYPE_CHECKING:  # so that mypy still reports a misspelt attribute of this module
    __getattr__ = moved_names(__name__, {"get_progress": "progress_tracking.services"})
