"""``ProgressRecorder``: progress reporting for worker code, coalesced and kept alive.

A worker loop may report progress hundreds of times a second; the recorder writes at most once
per ``RECORDER_MIN_INTERVAL`` and keeps the newest values in between. A change of a file's
status, completion and failure are written at once. While the recorder is open a daemon
thread refreshes ``last_updated`` every ``HEARTBEAT_INTERVAL`` seconds, so one slow step (a
long audio chunk) never makes a live session look stale; when the worker process dies, the
heartbeat dies with it and the session goes stale as it should.

Works in any worker: a Django task, Celery, RQ, a thread::

    with ProgressRecorder(session_id) as recorder:
        for page, total in pages():
            recorder.file("report.pdf", progress=100 * page / total, message=f"Page {page}")
        recorder.file("report.pdf", progress=100, status="completed")
        recorder.complete()

Leaving the ``with`` block through an exception records it with ``mark_session_error``.

A cancelled session (``services.request_cancel``) is noticed by the recorder's next write, a
report or a heartbeat, without any extra query: that write finds the session ``cancelled``
and the job's next call to ``update()``, ``file()``, ``flush()`` or ``complete()`` raises
``ProgressCancelled``. Leaving the ``with`` block through it is quiet; the session and its
unfinished files are already ``cancelled``.

The database may go away for a while (a restart, a failover, a lock that outlasts its
timeout). A report never loses a value: what could not be written stays pending (newer values
still replace older ones) and is retried with backoff; the job only sees the error when the
store stayed unreachable for ``RECORDER_GRACE_PERIOD`` seconds (``ProgressStoreUnavailable``).
``complete()`` and ``fail()`` retry the same way, so a job that finishes during a short outage
has its final state recorded when the database returns. ``recorder.delivering`` tells a job
whether its progress currently reaches the database.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, cast
from uuid import UUID

from django.db import InterfaceError, OperationalError, connections, router

from . import services, state
from .conf import app_settings
from .exceptions import ProgressCancelled, ProgressStoreUnavailable
from .models import FINAL_FILE_STATUSES, ProgressStatus, get_progress_model
from .payload import Progress

logger = logging.getLogger(__name__)

# Errors that say "the store is not reachable right now", not "this write is wrong":
# connection refused or reset, server shutting down, lock and statement timeouts.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
# Backoff between retries after a failed write: doubles from the first to the last, jittered.
RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 10.0


class ProgressRecorder:
    def __init__(
        self,
        session_id: str | UUID,
        *,
        min_interval: float | None = None,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session_id = str(session_id)
        self.min_interval = (
            app_settings.RECORDER_MIN_INTERVAL if min_interval is None else min_interval
        )
        self.heartbeat_interval = (
            app_settings.HEARTBEAT_INTERVAL if heartbeat_interval is None else heartbeat_interval
        )
        self.grace_period = (
            app_settings.RECORDER_GRACE_PERIOD if grace_period is None else grace_period
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._pending_session: dict[str, Any] | None = None
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._file_status: dict[str, str] = {}
        self._last_write = float("-inf")
        # Set while writes fail: when the first failure happened, how many followed, and when
        # the next attempt is due.
        self._failing_since: float | None = None
        self._failures = 0
        self._retry_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = False
        # Set by the first write that finds the session cancelled (from any thread).
        self.cancelled = False
        self.writes = 0

    @property
    def delivering(self) -> bool:
        """False while the last write failed and reported values wait to be retried."""
        return self._failing_since is None

    @property
    def pending(self) -> bool:
        """True while reported values have not reached the database yet."""
        return bool(self._pending_files) or self._pending_session is not None

    # -- reporting -------------------------------------------------------------------------

    def update(
        self, progress: float | None = None, message: str | None = None, **fields: Any
    ) -> None:
        """Coalesced ``update_progress``; arguments are validated at once."""
        state.check_update_args(progress, message, fields)
        with self._lock:
            self._raise_if_cancelled()
            pending = self._pending_session or {}
            if progress is not None:
                pending["progress"] = progress
            if message is not None:
                pending["message"] = message
            pending.update(fields)
            self._pending_session = pending
            self._maybe_flush(urgent=False)
            self._raise_if_cancelled()

    def file(
        self,
        filename: str,
        *,
        progress: float,
        status: str = "processing",
        message: str | None = None,
        error: str | None = None,
    ) -> None:
        """Coalesced ``update_file_progress``; a status change is written at once."""
        state.check_file_args(filename, progress, status, message)
        with self._lock:
            self._raise_if_cancelled()
            urgent = self._file_status.get(filename) != status or status in FINAL_FILE_STATUSES
            self._file_status[filename] = status
            self._pending_files[filename] = {
                "progress": progress,
                "status": status,
                "message": message,
                "error": error,
            }
            self._maybe_flush(urgent=urgent)
            self._raise_if_cancelled()

    def complete(self, message: str | None = None) -> Progress:
        """Write what is pending, then finish the session; retried through an outage.

        Raises ``ProgressCancelled`` instead when the session was cancelled meanwhile.
        """
        with self._lock:
            self._raise_if_cancelled()
            result = self._with_retries(
                lambda: self._noted(services.mark_session_complete(self.session_id, message))
            )
            self._raise_if_cancelled()
            return result

    def fail(self, error: object) -> Progress:
        """Record the job's failure; retried through an outage like ``complete()``."""
        return self._with_retries(
            lambda: services.mark_session_error(self.session_id, error), strict=False
        )

    def flush(self) -> None:
        """Write everything pending now, retrying through an outage for the grace period."""
        with self._lock:
            self._raise_if_cancelled()
            self._with_retries(None)
            self._raise_if_cancelled()

    def _noted(self, progress: Progress) -> Progress:
        """What a write returned; a cancelled session is remembered for the job's next call."""
        if progress.get("status") == ProgressStatus.CANCELLED:
            self.cancelled = True
        return progress

    def _raise_if_cancelled(self) -> None:
        if self.cancelled:
            # The session is over: what is still buffered can never be written.
            self._pending_files.clear()
            self._pending_session = None
            raise ProgressCancelled(self.session_id)

    def _with_retries(
        self, finish: Callable[[], Progress] | None, *, strict: bool = True
    ) -> Progress:
        with self._lock:
            while True:
                try:
                    self._deliver_pending(strict=strict)
                    # Without ``finish`` (flush()) the result is discarded.
                    result = finish() if finish is not None else cast(Progress, {})
                except TRANSIENT_ERRORS as exc:
                    self._failed(exc)  # raises once the grace period is over
                    self._sleep(max(0.0, self._retry_at - self._clock()))
                    continue
                self._delivered()
                if finish is not None and not self.cancelled:
                    self.finished = True
                return result

    def _deliver_pending(self, *, strict: bool) -> None:
        """Write pending values; each leaves the buffer only once the database has it."""
        for name in list(self._pending_files):
            values = self._pending_files[name]
            try:
                self._noted(services.update_file_progress(self.session_id, name, **values))
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                # Not a blip: this value will never be accepted, so retrying it is pointless.
                del self._pending_files[name]
                if strict:
                    raise
                logger.exception(
                    "Could not write progress of %s (session %s)", name, self.session_id
                )
                continue
            del self._pending_files[name]
            self.writes += 1
        pending = self._pending_session
        if pending is not None:
            try:
                self._noted(services.update_progress(self.session_id, **pending))
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                self._pending_session = None
                if strict:
                    raise
                logger.exception("Could not write progress of session %s", self.session_id)
                return
            self._pending_session = None
            self.writes += 1

    def _maybe_flush(self, *, urgent: bool) -> None:
        now = self._clock()
        if self._failing_since is not None:
            due = now >= self._retry_at
        else:
            due = urgent or now - self._last_write >= self.min_interval
        if due:
            self._attempt(touch=False)

    def _attempt(self, *, touch: bool) -> None:
        """One try at writing what is pending (or a heartbeat when ``touch``)."""
        try:
            if self.pending:
                self._deliver_pending(strict=True)
            elif touch:
                self._noted(services.heartbeat(self.session_id))
        except TRANSIENT_ERRORS as exc:
            self._failed(exc)
            return
        self._delivered()

    def _delivered(self) -> None:
        if self._failing_since is not None:
            logger.info("Progress of session %s is delivered again", self.session_id)
        self._failing_since = None
        self._failures = 0
        self._last_write = self._clock()

    def _failed(self, exc: Exception) -> None:
        """Schedule the next attempt after a transient error, or give up after the grace."""
        _discard_broken_connection()
        now = self._clock()
        if self._failing_since is None:
            logger.warning(
                "Progress of session %s is not reaching the database (%s); retrying for %s s",
                self.session_id,
                exc,
                self.grace_period,
            )
            self._failing_since = now
        if now - self._failing_since >= self.grace_period:
            raise ProgressStoreUnavailable(
                f"Progress of session {self.session_id} could not be written for "
                f"{now - self._failing_since:.1f} s: {exc}"
            ) from exc
        delay = min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2**self._failures)
        self._failures += 1
        self._retry_at = min(
            now + delay * random.uniform(0.5, 1.0), self._failing_since + self.grace_period
        )

    # -- heartbeat -------------------------------------------------------------------------

    def start(self) -> ProgressRecorder:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat, name=f"progress-heartbeat-{self.session_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _next_beat(self) -> float:
        if self._failing_since is None:
            return self.heartbeat_interval
        # While the store is away, retry on schedule even when the job reports nothing.
        return max(0.05, min(self.heartbeat_interval, self._retry_at - self._clock()))

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self._next_beat()):
                with self._lock:
                    if self.finished or self.cancelled:
                        return
                    now = self._clock()
                    if self._failing_since is not None:
                        due = now >= self._retry_at
                    else:
                        due = self.pending or now - self._last_write >= self.heartbeat_interval
                    if not due:
                        continue
                    try:
                        self._attempt(touch=True)
                    except Exception:
                        logger.exception("Heartbeat of session %s failed", self.session_id)
        finally:
            # This thread's own database connection must not outlive it.
            connections.close_all()

    def __enter__(self) -> ProgressRecorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self.stop()
        if isinstance(exc, ProgressCancelled) and str(exc.session_id) == self.session_id:
            return True  # the session already ended cancelled: nothing to record
        if self.finished or self.cancelled:
            return None
        if exc is None:
            with contextlib.suppress(ProgressCancelled):
                self.flush()
            return None
        try:
            self.fail(exc)
        except Exception:  # the job's own exception is the one to propagate
            logger.exception("Could not record the failure of session %s", self.session_id)
        return None


def _discard_broken_connection() -> None:
    """Close this thread's connection after a network error so the next try reconnects.

    Django reopens a closed connection by itself, but keeps using one that the server
    dropped. Inside a transaction the connection is the caller's to manage; SQLite has no
    network to lose (a "locked" error leaves its connection usable).
    """
    connection = connections[router.db_for_write(get_progress_model())]
    if connection.vendor == "sqlite" or connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # a dead socket may fail to close cleanly; it is gone either way
        connection.connection = None
