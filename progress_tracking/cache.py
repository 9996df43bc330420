"""The fast read path's cache: one small record per session, kept in step by the writes.

``PROGRESS_TRACKING["CACHE"]`` names one of the host's ``CACHES`` (Redis in production);
``None`` (the default) turns all of this off and polls read the database.

A record holds what a poll needs to answer without touching the database: the version, the
ETag, the owner, when the session turns stale, and the stored progress dict. A 304 is decided
from the ETag alone; a 200 renders the body from the dict when it is sent, so the fields that
move with the clock (``elapsed_seconds``, ``eta_seconds``) are as fresh as the DRF view's.
A session is found in whichever progress model holds it (``hosts``). The rules that keep it
honest:

- Only the writes replace a record (``sync_session``, after their commit), and each does so
  while holding the row's write lock, with the row as it is then: two writers' records reach
  the cache in the order of their commits, so the cache never goes back to an older version.
- A session that is gone (cleared, removed by cleanup, replaced) is written as a tombstone, so
  a poll that read the database just before it went cannot put it back (readers only ``add``).
- The record carries its expiry: a session that turns stale reads as gone even if no write
  (nor cleanup) ever touches it again.
- Any cache error is logged and the poll reads the database instead.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.core.cache import BaseCache, caches
from django.db import connections, router, transaction
from django.db.models import Model

from . import compat, hosts, selectors, storage
from .conf import app_settings
from .models import FINAL_STATUSES
from .payload import Progress

logger = logging.getLogger("progress_tracking.cache")

# Kept a little past a session's expiry, so a poll then still answers 404 without a query.
EXPIRY_MARGIN = 60


class CachedStatus(NamedTuple):
    """What the cache holds for one session; ``progress`` None is a tombstone (session gone)."""

    version: int
    etag: str
    owner: str | None
    expires: float  # Unix time after which the session is stale
    progress: Progress | None  # the stored dict; the body is rendered from it when sent

    @property
    def gone(self) -> bool:
        return self.progress is None or time.time() > self.expires


def get_cache() -> BaseCache | None:
    alias = app_settings.CACHE
    return caches[alias] if alias else None


def key_for(session_id: str) -> str:
    from .views import BODY_FORMAT

    return f"progress_tracking:status:{BODY_FORMAT}:{app_settings.FILES_LIMIT}:{session_id}"


def version_of(progress: Progress) -> int:
    version = progress.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > 0:
        return version
    return 0


def expiry(status: str, updated_at: datetime | None) -> float:
    if updated_at is None:
        return 0.0
    period = app_settings.FINISHED_TTL if status in FINAL_STATUSES else app_settings.STALE_AFTER
    return (updated_at + period).timestamp()


def render_body(progress: Progress, files_limit: int) -> bytes:
    """The status body, byte for byte as the DRF view renders it at this moment."""
    from rest_framework.renderers import JSONRenderer

    from .serializers import ProgressStatusSerializer

    body = ProgressStatusSerializer(progress, context={"files_limit": files_limit}).data
    return JSONRenderer().render(body)


def build_record(progress: Progress, owner_id: Any, updated_at: datetime | None) -> CachedStatus:
    """The record of a live session: its ETag exactly as the DRF view makes it."""
    from .views import status_etag

    return CachedStatus(
        version=version_of(progress),
        etag=status_etag(progress, app_settings.FILES_LIMIT),
        owner=None if owner_id is None else str(owner_id),
        expires=expiry(str(progress.get("status")), updated_at),
        progress=progress,
    )


def tombstone() -> CachedStatus:
    longest = max(app_settings.STALE_AFTER, app_settings.FINISHED_TTL).total_seconds()
    return CachedStatus(0, "", None, time.time() + longest, None)


def _timeout(record: CachedStatus) -> int:
    return max(1, math.ceil(record.expires - time.time()) + EXPIRY_MARGIN)


def read(store: BaseCache, session_id: str) -> CachedStatus | None:
    record = store.get(key_for(session_id))
    return record if isinstance(record, CachedStatus) else None


def remember(store: BaseCache, session_id: str, record: CachedStatus) -> None:
    """A reader's copy of what it just read from the database: never replaces a record."""
    try:
        store.add(key_for(session_id), record, _timeout(record))
    except Exception:
        logger.warning("Progress cache unavailable: not caching session %s", session_id)


# -- the write side -------------------------------------------------------------------------


def sync_session(session_id: object, model: type[Model] | None = None) -> None:
    """Bring the cached record of a session in line with its row; called after each commit.

    ``model`` is the progress model that holds the session, when the caller knows it;
    otherwise every candidate model is asked (``hosts.first_found``). Never raises: the write
    it follows has committed already. On failure the record is dropped if possible, and polls
    read the database until the next write.
    """
    store = get_cache()
    uuid = selectors.parse_session_id(session_id)
    if store is None or uuid is None:
        return
    try:
        _refresh(store, uuid, hosts.host_of(model) if model is not None else _holder_of(uuid))
    except Exception:
        logger.warning("Progress cache not updated for session %s", uuid, exc_info=True)
        try:
            store.delete(key_for(str(uuid)))
        except Exception:
            logger.warning("Progress cache unavailable: stale record of %s may remain", uuid)


def sync_after_commit(session_id: object, model: type[Model]) -> None:
    """``sync_session`` once the current transaction on ``model``'s database commits."""
    if app_settings.CACHE:
        transaction.on_commit(
            lambda: sync_session(session_id, model), using=router.db_for_write(model)
        )


def forget_after_commit(session_ids: list[Any], model: type[Model]) -> None:
    """``forget_sessions`` once the current transaction on ``model``'s database commits."""
    transaction.on_commit(
        lambda: forget_sessions(list(session_ids)), using=router.db_for_write(model)
    )


def forget_sessions(session_ids: list[Any]) -> None:
    """Tombstone sessions that no longer exist (cleanup removed them); ids are never reused."""
    store = get_cache()
    if store is None or not session_ids:
        return
    record = tombstone()
    try:
        store.set_many({key_for(str(s)): record for s in session_ids}, _timeout(record))
    except Exception:
        logger.warning(
            "Progress cache unavailable: %d removed session(s) read as live until they expire",
            len(session_ids),
        )


def _holder_of(uuid: UUID) -> type[Model] | None:
    """The progress model whose table has a row for ``uuid`` (live or not), else None."""

    def holds(model: type[Model]) -> type[Model] | None:
        return model if hosts.manager(model).filter(progress_session_id=uuid).exists() else None

    return hosts.first_found(uuid, holds)


def _refresh(store: BaseCache, uuid: UUID, model: type[Model] | None) -> None:
    if model is None:  # no model holds it any more: the session is gone
        record = tombstone()
        store.set(key_for(str(uuid)), record, _timeout(record))
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    if not storage.in_caller_transaction(connection):
        with storage.immediate_on_sqlite(connection), transaction.atomic(using=alias):
            _refresh_locked(store, uuid, connection, model)
        return
    # The write committed on a side connection while the caller's transaction goes on: lock
    # the row there too, or the caller's transaction would hold the lock until it ends.
    side = compat.new_connection(alias)
    try:
        side.set_autocommit(False)
        _refresh_locked(store, uuid, side, model)
        side.commit()
    finally:
        side.close()


def _refresh_locked(store: BaseCache, uuid: UUID, connection: Any, model: type[Model]) -> None:
    owner = hosts.owner_attname(model)
    queryset = hosts.manager(model).filter(progress_session_id=uuid)
    if connection.features.has_select_for_update:
        queryset = queryset.select_for_update()
    fields = ("meta", "progress_status", "progress_updated_at", *([owner] if owner else []))
    rows = storage.select(queryset, fields, connection)
    progress = selectors.live_progress(*rows[0][:3]) if rows else None
    if progress is None:
        record = tombstone()
    else:
        record = build_record(progress, rows[0][3] if owner else None, rows[0][2])
    # Still under the row lock: the next writer's record can only come after this one.
    store.set(key_for(str(uuid)), record, _timeout(record))
