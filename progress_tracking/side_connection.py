"""One reused second connection per thread, for progress written inside a caller's transaction.

On PostgreSQL a worker inside its own ``transaction.atomic()`` writes progress on a second
connection that commits at once (see ``storage``). Opening a connection costs more than the
write itself, so each thread keeps one per database alias for its life and replaces it only
when it broke. ``close_side_connections()`` closes them all (tests call it before the test
database is dropped; a thread's own connection also closes when the thread ends).
"""

from __future__ import annotations

import contextlib
import threading
import weakref

from django.db.backends.base.base import BaseDatabaseWrapper

from . import compat


class _SideConnections(threading.local):
    def __init__(self) -> None:
        self.by_alias: dict[str, BaseDatabaseWrapper] = {}


_side = _SideConnections()
# Every side connection of every thread, so tests and shutdown code can close them.
_every_side: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()
_every_side_lock = threading.Lock()


def side_connection(alias: str) -> BaseDatabaseWrapper:
    """This thread's second connection to ``alias`` (not in autocommit), opened on first use.

    Opening a PostgreSQL connection costs more than the write itself, so it is kept for the
    thread's life; one whose server went away is replaced.
    """
    side = _side.by_alias.get(alias)
    if side is not None and (side.connection is None or _is_closed(side)):
        _discard(side, alias)
        side = None
    if side is None:
        side = compat.new_connection(alias)
        side.set_autocommit(False)
        _side.by_alias[alias] = side
        with _every_side_lock:
            _every_side.add(side)
    return side


def _is_closed(side: BaseDatabaseWrapper) -> bool:
    return bool(getattr(side.connection, "closed", False))


def rollback_or_discard(side: BaseDatabaseWrapper, alias: str) -> None:
    try:
        side.rollback()
    except Exception:  # the connection itself broke: the next write opens a new one
        _discard(side, alias)


def _discard(side: BaseDatabaseWrapper, alias: str) -> None:
    _side.by_alias.pop(alias, None)
    # Closing a connection whose server went away may raise; it is gone either way.
    with contextlib.suppress(Exception):
        side.close()


def close_side_connections() -> int:
    """Close the side connections of every thread (e.g. before dropping a test database)."""
    with _every_side_lock:
        sides = list(_every_side)
        _every_side.clear()
    for side in sides:
        raw = side.connection
        if raw is not None:
            raw.close()
        side.connection = None
    _side.by_alias.clear()
    return len(sides)
