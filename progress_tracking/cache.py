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

Each process also keeps what it last read for a session for at most ``MEMO_TTL`` seconds
(``read_for_poll``), so a session polled many times a second costs one cache read per
``MEMO_TTL``, not one per poll. The memo never answers a client that has seen a newer
version (its ``If-None-Match``), any write of this process drops the session's entry at once,
and a write in another process shows at most ``MEMO_TTL`` after it reached the cache: well
within the next poll a second later.
"""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache as memoize
from typing import Any, NamedTuple, cast
from uuid import UUID

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.models import Model
from django.dispatch import receiver

from . import compat, hosts, selectors, storage
from .conf import app_settings
from .models import FINAL_STATUSES
from .payload import Progress

logger = logging.getLogger("progress_tracking.cache")

# Kept a little past a session's expiry, so a poll then still answers 404 without a query.
EXPIRY_MARGIN = 60
# Bump when CachedStatus changes, so records of another release are never read.
RECORD_FORMAT = "2"
# Seconds a process answers polls of a session from the record it last read (well under the
# 1 s within which a write must show), and how many sessions it keeps at most.
MEMO_TTL = 0.25
MEMO_SIZE = 1024


class CachedStatus(NamedTuple):
    """What the cache holds for one session; ``state`` None is a tombstone (session gone).

    The progress dict is kept pickled inside the record: a 304 needs only the small fields,
    and unpickling the dict is left to the 200s that render a body from it (``progress``).
    """

    version: int
    etag: str
    owner: str | None
    expires: float  # Unix time after which the session is stale
    state: bytes | None  # the stored progress dict, pickled; the body is rendered when sent

    @property
    def progress(self) -> Progress | None:
        return None if self.state is None else cast(Progress, pickle.loads(self.state))

    @property
    def gone(self) -> bool:
        return self.state is None or time.time() > self.expires


def get_cache() -> BaseCache | None:
    alias = app_settings.CACHE
    return caches[alias] if alias else None


def key_for(session_id: str) -> str:
    return key_prefix(app_settings.FILES_LIMIT) + session_id


@memoize
def key_prefix(files_limit: int) -> str:
    """Keys change with the body's format and ``FILES_LIMIT``, which both shape the ETag."""
    from .views import BODY_FORMAT

    return f"progress_tracking:status:{RECORD_FORMAT}:{BODY_FORMAT}:{files_limit}:"


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
    from .serializers import ProgressStatusSerializer
    from .views import ProgressJSONRenderer

    body = ProgressStatusSerializer(progress, context={"files_limit": files_limit}).data
    return ProgressJSONRenderer().render(body)


def build_record(progress: Progress, owner_id: Any, updated_at: datetime | None) -> CachedStatus:
    """The record of a live session: its ETag exactly as the DRF view makes it."""
    from .views import status_etag

    return CachedStatus(
        version=version_of(progress),
        etag=status_etag(progress, app_settings.FILES_LIMIT),
        owner=None if owner_id is None else str(owner_id),
        expires=expiry(str(progress.get("status")), updated_at),
        state=pickle.dumps(progress, pickle.HIGHEST_PROTOCOL),
    )


def tombstone() -> CachedStatus:
    longest = max(app_settings.STALE_AFTER, app_settings.FINISHED_TTL).total_seconds()
    return CachedStatus(0, "", None, time.time() + longest, None)


def _timeout(record: CachedStatus) -> int:
    return max(1, math.ceil(record.expires - time.time()) + EXPIRY_MARGIN)


def read(store: BaseCache, session_id: str, key: str | None = None) -> CachedStatus | None:
    """The cached record of a session (one cache read), or None; ``key`` if known."""
    record = store.get(key_for(session_id) if key is None else key)
    return record if isinstance(record, CachedStatus) else None


# The per-process memo: cache key -> (time.monotonic() before the read, record read).
_memo: dict[str, tuple[float, CachedStatus]] = {}
_memo_lock = threading.Lock()
_generation = 0  # bumped by every write of this process: a read older than it is not kept


def read_for_poll(
    store: BaseCache, key: str, usable: Callable[[CachedStatus], bool]
) -> CachedStatus | None:
    """The record for a poll: this process's copy if younger than ``MEMO_TTL`` and
    ``usable`` for the client, else one cache read (kept for the next polls)."""
    now = time.monotonic()
    kept = _memo.get(key)
    if kept is not None and 0 <= now - kept[0] < MEMO_TTL and usable(kept[1]):
        return kept[1]
    generation = _generation
    record = store.get(key)
    if not isinstance(record, CachedStatus):
        return None
    with _memo_lock:
        if generation == _generation:  # no write of this process since the read began
            if len(_memo) >= MEMO_SIZE:
                _memo.clear()
            _memo[key] = (now, record)
    return record


def _forget_read(keys: Iterable[str]) -> None:
    """A write of this process: polls read the cache again, and no read in flight is kept."""
    global _generation
    with _memo_lock:
        _generation += 1
        for key in keys:
            _memo.pop(key, None)


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    with _memo_lock:
        _memo.clear()


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
    finally:
        _forget_read([key_for(str(uuid))])


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
    keys = [key_for(str(s)) for s in session_ids]
    try:
        store.set_many(dict.fromkeys(keys, record), _timeout(record))
    except Exception:
        logger.warning(
            "Progress cache unavailable: %d removed session(s) read as live until they expire",
            len(session_ids),
        )
    finally:
        _forget_read(keys)


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
