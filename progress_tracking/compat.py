"""The few private Django internals the app relies on, each behind one small function.

Everything else in the app uses documented API. Each function here says why no public way
exists. ``tests/progress_tracking/test_compat.py`` exercises every one on each Django version
CI runs and fails naming the internal and the Django version when a release changes it, so an
upgrade breaks one test here instead of progress writes in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.sql.constants import ROW_COUNT
from django.db.models.sql.subqueries import UpdateQuery
from django.db.transaction import Atomic


def select_rows(
    queryset: QuerySet[Any], fields: tuple[str, ...], connection: BaseDatabaseWrapper
) -> list[tuple[Any, ...]]:
    """Run ``queryset.values_list(*fields)`` on ``connection``, a connection object.

    A QuerySet runs only on a database alias (``using()``); the second connection that
    commits progress while the caller's transaction goes on has none, so the query is
    compiled against the connection object itself (``Query.get_compiler``).
    """
    compiler = queryset.values_list(*fields).query.get_compiler(connection=connection)
    return [tuple(row) for row in compiler.results_iter()]


def update_rows(
    queryset: QuerySet[Any], values: Mapping[str, Any], connection: BaseDatabaseWrapper
) -> int:
    """``queryset.update(**values)`` run on ``connection``; the number of rows matched.

    The same reason as ``select_rows``: ``QuerySet.update()`` takes no connection object,
    so this builds the UPDATE the way it does (``UpdateQuery``, ``ROW_COUNT``).
    """
    query: Any = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    return int(query.get_compiler(connection=connection).execute_sql(ROW_COUNT))


def caller_atomic_blocks(connection: BaseDatabaseWrapper) -> list[Atomic]:
    """The ``atomic()`` blocks open on ``connection``, outermost first, except TestCase's.

    Django offers ``in_atomic_block`` (true inside any block) but no public way to tell the
    blocks a TestCase wraps every test in from the caller's own; Django itself reads
    ``Atomic._from_testcase`` for ``durable=True``.
    """
    return [b for b in connection.atomic_blocks if not getattr(b, "_from_testcase", False)]


@contextmanager
def sqlite_transaction_mode(connection: BaseDatabaseWrapper, mode: str) -> Iterator[None]:
    """Start the transactions opened on this SQLite connection meanwhile with ``BEGIN mode``.

    The documented way is ``DATABASES[...]["OPTIONS"]["transaction_mode"]``, which is the
    host's to choose for every transaction; a reusable app needs ``IMMEDIATE`` for its own
    read-modify-write transactions only, so it swaps the value Django read from OPTIONS
    (``DatabaseWrapper.transaction_mode``) for their duration.
    """
    connection.ensure_connection()  # the wrapper reads OPTIONS when it connects
    previous = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = mode  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def new_connection(alias: str) -> BaseDatabaseWrapper:
    """A new connection to the database ``alias``, separate from ``connections[alias]``.

    Django documents one connection per alias and thread; the handler's
    ``create_connection()``, which builds that one, is the only way to open another with
    the same settings (a side connection that commits while the caller's transaction goes
    on).
    """
    return connections.create_connection(alias)


def use_redis_client_class(cache: Any, client_class: type) -> None:
    """Make Django's ``RedisCache`` build its client from ``client_class``.

    ``RedisCache`` takes no option for its client class: it builds
    ``RedisCacheClient`` from the private ``_class`` attribute its ``__init__`` sets.
    """
    cache._class = client_class


def redis_connection_pool(client: Any, write: bool) -> Any:
    """The ``redis.ConnectionPool`` Django's ``RedisCacheClient`` would use for one call.

    Its ``get_client()`` returns a new ``redis.Redis`` every call; the pool it wraps (chosen
    per read or write among the configured servers, created on first use) is only reachable
    through the private ``_get_connection_pool()``.
    """
    return client._get_connection_pool(write)
