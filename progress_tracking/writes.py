"""How the services change a stored session, and what follows each committed change.

``write_session`` applies a change to a session wherever it lives (``hosts``), under the row's
lock (``storage``); ``send_after_commit`` then keeps the fast path's cache in step, records the
history of a session that just ended and sends the signal. The public functions that use them
are in ``services``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import cast
from uuid import UUID

from django.db import transaction
from django.db.models import Model
from django.dispatch import Signal
from django.utils import timezone

from . import cache as progress_cache
from . import history, hosts, selectors, state, storage
from .exceptions import InvalidProgressData, SessionNotFound, SessionStale
from .models import PROGRESS_KEY
from .payload import Progress
from .storage import Row


def stored(row: Row, session_id: str) -> Progress:
    """The row's progress dict, if it belongs to ``session_id``."""
    if not isinstance(row.meta, dict):
        raise not_a_dict(row.meta)
    progress = row.meta.get(PROGRESS_KEY)
    if not isinstance(progress, dict) or progress.get("session_id") != session_id:
        raise SessionNotFound(session_id)
    return cast(Progress, progress)  # what the services stored


def not_a_dict(meta: object) -> InvalidProgressData:
    return InvalidProgressData(
        f"meta of this row is a {type(meta).__name__}, not a dict; "
        "progress can only be stored in a dict."
    )


def write_session(
    session_id: str | UUID,
    change: Callable[[Progress, float], Progress | None],
    signal: Signal | Callable[[Progress], Signal],
) -> Progress:
    """Apply ``change`` to a session's stored dict; final sessions are left as they are."""
    uuid_ = selectors.parse_session_id(session_id)
    if uuid_ is None:
        raise SessionNotFound(session_id)
    sid = str(uuid_)
    now = timezone.now()

    def mutate(row: Row) -> Progress | None:
        current = stored(row, sid)
        # Readers already answer 404 for it (and a poller told its user the work stopped):
        # a late write must not bring it back.
        if selectors.is_stale(str(current.get("status")), row.updated_at, now):
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
        send_after_commit(chosen, result, model)
    return copy.deepcopy(result.progress)


def send_after_commit(signal: Signal, result: storage.WriteResult, model: type[Model]) -> None:
    """Once the write commits: cache, history of a session that ended, then ``signal``."""
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
