"""The one place that reads and writes a progress row under a lock.

Every write is a short read-modify-write of ``meta`` plus the indexed ``progress_*`` columns:

- PostgreSQL: ``SELECT ... FOR UPDATE`` inside a transaction, so concurrent writers queue.
- SQLite: ``SELECT FOR UPDATE`` does not exist, so the transaction starts with
  ``BEGIN IMMEDIATE`` whatever the host's ``transaction_mode`` is (a deferred transaction that
  upgrades to a write lock fails at once with "database is locked"); the rare lock that
  outlasts the busy timeout is retried.
- When the caller is inside its own ``transaction.atomic()`` on PostgreSQL, the write goes
  through a second connection and commits at once, so pollers see progress before the
  caller's transaction ends. That connection is opened once per thread and database alias and
  reused by later writes (``side_connection``). If it cannot see or lock the row (the row was
  created or locked by the caller's uncommitted transaction), the write joins the caller's
  transaction instead and is visible at its commit.
- ``join_caller=True`` (``start_session``) always writes in the caller's transaction, so a
  session started in a transaction that rolls back is gone with it.

Queries are compiled against an explicit connection object so both paths share one code path
(``compat.select_rows``/``compat.update_rows``: Django runs a QuerySet only on an alias).
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import OperationalError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Func, JSONField, Model, QuerySet

from . import compat, hosts
from .conf import app_settings
from .models import PROGRESS_KEY
from .payload import Progress
from .side_connection import rollback_or_discard, side_connection

SQLITE_LOCK_RETRIES = 5
SIDE_CONNECTION_LOCK_TIMEOUT = "2s"


class _InlineUntilTransactionEnds:
    """Registered with ``on_commit`` once a side-connection write had to fall back.

    It lives as long as the caller's transaction: Django drops it after running it at the
    commit and discards it at a rollback, so a weak reference to it tells whether the
    transaction that fell back is still the one going on (an ``atomic`` decorator reuses
    one ``Atomic`` object for every call, so the block itself cannot carry that). Inside a
    TestCase it lasts until the test ends, whose data no other connection sees anyway.
    """

    __slots__ = ("__weakref__", "ended")

    def __init__(self) -> None:
        self.ended = False

    def __call__(self) -> None:
        self.ended = True


class _InlineMarks(threading.local):
    def __init__(self) -> None:
        self.by_alias: dict[str, weakref.ref[_InlineUntilTransactionEnds]] = {}


_inline_marks = _InlineMarks()


def _writes_inline(alias: str) -> bool:
    """Whether a side-connection write fell back earlier in the caller's transaction."""
    ref = _inline_marks.by_alias.get(alias)
    mark = ref() if ref is not None else None
    return mark is not None and not mark.ended


def _write_inline_until_transaction_ends(alias: str) -> None:
    mark = _InlineUntilTransactionEnds()
    transaction.on_commit(mark, using=alias)
    _inline_marks.by_alias[alias] = weakref.ref(mark)


@dataclass(frozen=True)
class Row:
    pk: Any
    meta: Any
    updated_at: datetime | None


@dataclass
class WriteResult:
    progress: Progress | None
    changed: bool
    alias: str
    committed: bool = False


class RowMissing(Exception):
    """No row matched the lookup on the connection used."""


# The mutation gets the locked row and returns the new progress dict, or None (no change).
Mutation = Callable[[Row], Progress | None]


def progress_columns(progress: Progress | None, now: datetime | None) -> dict[str, Any]:
    if progress is None:
        return {"progress_session_id": None, "progress_status": "", "progress_updated_at": None}
    return {
        "progress_session_id": UUID(progress["session_id"]),
        "progress_status": progress["status"],
        "progress_updated_at": now,
    }


def write(
    model: type[Model],
    lookup: dict[str, Any],
    mutate: Mutation,
    now: datetime,
    *,
    join_caller: bool = False,
) -> WriteResult:
    """Apply ``mutate`` to the row matching ``lookup`` under a write lock; raise RowMissing."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    if not join_caller and _wants_side_connection(connection):
        result = _write_on_side_connection(model, alias, lookup, mutate, now)
        if result is not None:
            return result
    return _with_sqlite_retries(
        connection, lambda: _write_in_transaction(model, alias, connection, lookup, mutate, now)
    )


def in_caller_transaction(connection: BaseDatabaseWrapper) -> bool:
    """Whether the caller has an ``atomic()`` block open (a TestCase's own do not count)."""
    return bool(compat.caller_atomic_blocks(connection))


def _wants_side_connection(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor != "postgresql" or not app_settings.WRITE_OUTSIDE_TRANSACTION:
        return False
    return in_caller_transaction(connection) and not _writes_inline(connection.alias)


def _write_in_transaction(
    model: type[Model],
    alias: str,
    connection: BaseDatabaseWrapper,
    lookup: dict[str, Any],
    mutate: Mutation,
    now: datetime,
) -> WriteResult:
    with immediate_on_sqlite(connection), transaction.atomic(using=alias):
        return _locked_write(model, connection, alias, lookup, mutate, now)


def _write_on_side_connection(
    model: type[Model], alias: str, lookup: dict[str, Any], mutate: Mutation, now: datetime
) -> WriteResult | None:
    side = side_connection(alias)
    try:
        with side.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [SIDE_CONNECTION_LOCK_TIMEOUT]
            )
        result = _locked_write(model, side, alias, lookup, mutate, now)
    except (RowMissing, OperationalError):
        # Not visible or locked outside the caller's transaction: write inside it instead,
        # and keep doing so for the rest of that transaction.
        rollback_or_discard(side, alias)
        _write_inline_until_transaction_ends(alias)
        return None
    except BaseException:
        rollback_or_discard(side, alias)
        raise
    side.commit()
    result.committed = True
    return result


def _locked_write(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    alias: str,
    lookup: dict[str, Any],
    mutate: Mutation,
    now: datetime,
) -> WriteResult:
    queryset = hosts.manager(model).filter(**lookup)
    if connection.features.has_select_for_update:
        queryset = queryset.select_for_update()
    rows = select(queryset, ("pk", "meta", "progress_updated_at"), connection)
    if not rows:
        raise RowMissing
    row = Row(*rows[0])
    current = row.meta.get(PROGRESS_KEY) if isinstance(row.meta, dict) else None
    new = mutate(row)
    if new is None:
        return WriteResult(progress=current, changed=False, alias=alias)
    meta = {**row.meta, PROGRESS_KEY: new}
    update(model, connection, {"pk": row.pk}, {"meta": meta, **progress_columns(new, now)})
    return WriteResult(progress=new, changed=True, alias=alias)


def select(
    queryset: QuerySet[Any], fields: tuple[str, ...], connection: BaseDatabaseWrapper
) -> list[tuple[Any, ...]]:
    return compat.select_rows(queryset, fields, connection)


def update(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    lookup: dict[str, Any],
    values: dict[str, Any],
) -> int:
    return compat.update_rows(hosts.manager(model).filter(**lookup), values, connection)


@contextmanager
def immediate_on_sqlite(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Start the outermost transaction with BEGIN IMMEDIATE on SQLite."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with compat.sqlite_transaction_mode(connection, "IMMEDIATE"):
        yield


def _with_sqlite_retries(
    connection: BaseDatabaseWrapper, attempt: Callable[[], WriteResult]
) -> WriteResult:
    for tries in range(SQLITE_LOCK_RETRIES + 1):
        try:
            return attempt()
        except OperationalError as exc:
            retryable = (
                connection.vendor == "sqlite"
                and "locked" in str(exc)
                and not connection.in_atomic_block
                and tries < SQLITE_LOCK_RETRIES
            )
            if not retryable:
                raise
            time.sleep(random.uniform(0.05, 0.25) * (tries + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class WithoutProgressKey(Func):
    """``meta`` without the progress key, computed by the database in the UPDATE itself."""

    output_field = JSONField()

    def __init__(self) -> None:
        super().__init__(F("meta"))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # SQLite and MySQL/MariaDB spell it the same way.
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"JSON_REMOVE({sql}, '$.{PROGRESS_KEY}')", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"({sql} - '{PROGRESS_KEY}')", params


def cleared_values() -> dict[str, Any]:
    return {"meta": WithoutProgressKey(), **progress_columns(None, None)}
