"""Automatic cleanup: progress traffic sweeps stale progress, with nothing for the host to run.

Every API response and every progress write calls ``sweep_if_due()``. Most calls cost one
clock comparison: each process looks at the site-wide schedule at most once per
``AUTO_CLEANUP_INTERVAL``. When it does, a short-lived daemon thread (never the request or
the write) reads the schedule row and, if a sweep is due, claims it with one conditional
UPDATE; the process whose UPDATE matched sweeps through ``cleanup_stale_progress`` in batches,
renewing its lease after each batch. So at most one process sweeps at a time on every machine
sharing the database, on SQLite and PostgreSQL alike, and a sweep that fails is logged and
recorded on the schedule row, never raised into the request or write that started it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from .conf import app_settings, as_timedelta, user_settings
from .models import CleanupLease

logger = logging.getLogger(__name__)

LEASE_NAME = "stale-progress"
# A sweeper renews its lease after every batch; one that died mid-sweep frees it after this.
LEASE_DURATION = timedelta(seconds=120)
# A pause after each batch, as long as the batch took and at least this long: the sweeper
# works at most half the time, so other writers (one at a time on SQLite) and the requests
# served by the sweeping process get their turn between two batches.
PAUSE_BETWEEN_BATCHES = 0.05
# Processes that find the sweep not yet due come back when it is, spread over this many seconds.
MAX_JITTER = 2.0

_gate = threading.Lock()
_next_look = 0.0  # time.monotonic() before which this process does not look at the schedule
_thread: threading.Thread | None = None


def interval() -> timedelta:
    """``AUTO_CLEANUP_INTERVAL``; by default 60 s, or the shortest stale period if shorter."""
    configured = as_timedelta(app_settings.AUTO_CLEANUP_INTERVAL)
    if "AUTO_CLEANUP_INTERVAL" in user_settings():
        return configured
    return min(configured, app_settings.STALE_AFTER, app_settings.FINISHED_TTL)


def sweep_if_due() -> None:
    """Start a sweep thread if this process has not looked at the schedule for an interval.

    Called on the request and write paths: it never blocks, never queries and never raises.
    """
    global _next_look, _thread
    try:
        if not app_settings.AUTO_CLEANUP or time.monotonic() < _next_look:
            return
        if not _gate.acquire(blocking=False):
            return
        try:
            if time.monotonic() < _next_look or (_thread is not None and _thread.is_alive()):
                return
            _next_look = time.monotonic() + interval().total_seconds()
            _thread = threading.Thread(
                target=_sweep_in_thread, name="progress-tracking-cleanup", daemon=True
            )
            _thread.start()
        finally:
            _gate.release()
    except Exception:
        logger.exception("Could not start the automatic cleanup of stale progress.")


def sweep_after_write(sender: object, **kwargs: object) -> None:
    """Receiver of the progress signals (connected in ``AppConfig.ready``)."""
    sweep_if_due()


def _sweep_in_thread() -> None:
    try:
        run_scheduled_sweep()
    except Exception:
        logger.exception("Automatic cleanup of stale progress failed; it is retried later.")
    finally:
        # This thread's own connections: a finished thread must not leave one open.
        connections.close_all()


def _look_again_at(due: datetime, now: datetime) -> None:
    """Come back when the sweep is due (not a full interval later), a little spread out."""
    global _next_look
    wait = max((due - now).total_seconds(), 0.0)
    _next_look = (
        time.monotonic()
        + min(wait, interval().total_seconds())
        + random.uniform(0, min(MAX_JITTER, interval().total_seconds() / 10))
    )


def run_scheduled_sweep() -> int | None:
    """Sweep if the site-wide schedule says so and this process wins the lease.

    Returns how many sessions were removed, or None when no sweep was due or another process
    holds the lease. A sweep that fails releases the lease, records its error on the schedule
    row and re-raises.
    """
    manager = CleanupLease._default_manager
    now = timezone.now()
    current = manager.filter(name=LEASE_NAME).values_list("due_at", "held_until").first()
    if current is None:
        # First sweep on this database (or the row was deleted): create it, due at once.
        manager.bulk_create([CleanupLease(name=LEASE_NAME, due_at=now)], ignore_conflicts=True)
    else:
        due_at, held_until = current
        if due_at > now or (held_until is not None and held_until > now):
            _look_again_at(max(due_at, held_until or due_at), now)
            return None
    holder = f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    claimed = (
        manager.filter(Q(held_until=None) | Q(held_until__lte=now), name=LEASE_NAME)
        .filter(due_at__lte=now)
        .update(
            holder=holder,
            held_until=now + LEASE_DURATION,
            due_at=now + interval(),
            last_started_at=now,
        )
    )
    if not claimed:
        return None
    return _sweep_holding(holder)


def _sweep_holding(holder: str) -> int:
    from .history import prune_history
    from .services import cleanup_stale_progress

    manager = CleanupLease._default_manager.filter(name=LEASE_NAME, holder=holder)
    removed = 0
    batch_started = time.monotonic()
    stopped = False

    def renew(so_far: int) -> bool:
        nonlocal removed, batch_started, stopped
        removed = so_far
        time.sleep(max(PAUSE_BETWEEN_BATCHES, time.monotonic() - batch_started))
        batch_started = time.monotonic()
        if not app_settings.AUTO_CLEANUP:
            stopped = True
            return False
        # A lease lost (expired and claimed by another process) stops this sweep at once.
        renewed = manager.update(held_until=timezone.now() + LEASE_DURATION, last_removed=so_far)
        stopped = not renewed
        return bool(renewed)

    error = ""
    pruned = 0
    try:
        removed = cleanup_stale_progress(between_batches=renew)
        if not stopped:
            # History past its retention goes in the same sweep, under the same lease.
            pruned = prune_history(between_batches=lambda _count: renew(removed))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        raise
    finally:
        _release(manager, removed, error)
    if removed:
        logger.info("Automatic cleanup removed %d stale progress sessions.", removed)
    if pruned:
        logger.info("Automatic cleanup removed %d history records past retention.", pruned)
    return removed


def _release(lease: QuerySet[CleanupLease], removed: int, error: str) -> None:
    finished = timezone.now()
    try:
        lease.update(
            holder="",
            held_until=None,
            due_at=finished + interval(),
            last_finished_at=finished,
            last_removed=removed,
            last_error=error,
        )
    except Exception:
        # The sweep's own error (if any) is what gets raised; the lease expires by itself.
        logger.exception("Could not release the automatic cleanup lease.")
