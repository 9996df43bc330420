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

Queries are compiled against an explicit connection object so both paths share one code path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import OperationalError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Func, JSONField, Model
from django.db.models.sql.constants import ROW_COUNT
from django.db.models.sql.subqueries import UpdateQuery

from .conf import app_settings
from .models import PROGRESS_KEY
from .payload import Progress
from .side_connection import rollback_or_discard, side_connection

SQLITE_LOCK_RETRIES = 5
SIDE_CONNECTION_LOCK_TIMEOUT = "2s"
# Marks a caller's outermost atomic block once a side-connection write had to fall back.
INLINE_MARK = "_progress_tracking_inline"


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


def _caller_blocks(connection: BaseDatabaseWrapper) -> list[Any]:
    # Atomic blocks opened by a TestCase wrap every test; they are not the caller's own.
    return [b for b in connection.atomic_blocks if not getattr(b, "_from_testcase", False)]


def _wants_side_connection(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor != "postgresql" or not app_settings.WRITE_OUTSIDE_TRANSACTION:
        return False
    blocks = _caller_blocks(connection)
    return bool(blocks) and not getattr(blocks[0], INLINE_MARK, False)


def _write_in_transaction(
    model: type[Model],
    alias: str,
    connection: BaseDatabaseWrapper,
    lookup: dict[str, Any],
    mutate: Mutation,
    now: datetime,
) -> WriteResult:
    with _immediate_on_sqlite(connection), transaction.atomic(using=alias):
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
        setattr(_caller_blocks(connections[alias])[0], INLINE_MARK, True)
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
    queryset = model._base_manager.filter(**lookup)
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
    queryset: Any, fields: tuple[str, ...], connection: BaseDatabaseWrapper
) -> list[tuple[Any, ...]]:
    compiler = queryset.values_list(*fields).query.get_compiler(connection=connection)
    return [tuple(row) for row in compiler.results_iter()]


def update(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    lookup: dict[str, Any],
    values: dict[str, Any],
) -> int:
    query: Any = model._base_manager.filter(**lookup).query.chain(UpdateQuery)
    query.add_update_values(values)
    return int(query.get_compiler(connection=connection).execute_sql(ROW_COUNT))


@contextmanager
def _immediate_on_sqlite(connection: Any) -> Iterator[None]:
    """Start the outermost transaction with BEGIN IMMEDIATE on SQLite."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()  # transaction_mode is set when the connection opens
    previous = connection.transaction_mode
    connection.transaction_mode = "IMMEDIATE"
    try:
        yield
    finally:
        connection.transaction_mode = previous


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
        sql, params = compiler.compile(self.source_expressions[0])
        return f"JSON_REMOVE({sql}, '$.{PROGRESS_KEY}')", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} - '{PROGRESS_KEY}')", params


def cleared_values() -> dict[str, Any]:
    return {"meta": WithoutProgressKey(), **progress_columns(None, None)}
