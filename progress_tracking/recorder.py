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
timeout): what could not be written stays pending (``pending``) and is retried with backoff
(``retry``), ``complete()`` and ``fail()`` included; the job sees ``ProgressStoreUnavailable``
only after ``RECORDER_GRACE_PERIOD``. ``recorder.delivering`` tells whether it is delivering.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from . import retry, services, state
from .conf import app_settings
from .deprecation import moved_names
from .exceptions import ProgressCancelled
from .models import ProgressStatus
from .payload import Progress
from .pending import PendingProgress
from .retry import RetrySchedule, WriteConnections

logger = logging.getLogger(__name__)


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
        self._retry = RetrySchedule(
            self.session_id,
            app_settings.RECORDER_GRACE_PERIOD if grace_period is None else grace_period,
            clock,
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._pending = PendingProgress(self.session_id)
        self._last_write = float("-inf")
        self._connections = WriteConnections(self.session_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = False
        # Set by the first write that finds the session cancelled (from any thread).
        self.cancelled = False
        self.writes = 0

    @property
    def grace_period(self) -> float:
        return self._retry.grace_period

    @property
    def delivering(self) -> bool:
        """False while the last write failed and reported values wait to be retried."""
        return not self._retry.failing

    @property
    def pending(self) -> bool:
        """True while reported values have not reached the database yet."""
        return bool(self._pending)

    # -- reporting -------------------------------------------------------------------------

    def update(
        self, progress: float | None = None, message: str | None = None, **fields: Any
    ) -> None:
        """Coalesced ``update_progress``; arguments are validated at once."""
        state.check_update_args(progress, message, fields)
        with self._lock:
            self._raise_if_cancelled()
            self._pending.add_update(progress, message, fields)
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
            urgent = self._pending.add_file(
                filename, progress=progress, status=status, message=message, error=error
            )
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
            self._pending.clear()
            raise ProgressCancelled(self.session_id)

    def _with_retries(
        self, finish: Callable[[], Progress] | None, *, strict: bool = True
    ) -> Progress:
        with self._lock:
            while True:
                try:
                    self._pending.deliver(self._written, strict=strict)
                    # Without ``finish`` (flush()) the result is discarded.
                    result = finish() if finish is not None else cast(Progress, {})
                except retry.TRANSIENT_ERRORS as exc:
                    self._failed(exc)  # raises once the grace period is over
                    self._sleep(self._retry.wait())
                    continue
                self._delivered()
                if finish is not None and not self.cancelled:
                    self.finished = True
                return result

    def _written(self, progress: Progress) -> None:
        self._noted(progress)
        self.writes += 1

    def _maybe_flush(self, *, urgent: bool) -> None:
        if self._retry.failing:
            due = self._retry.due()
        else:
            due = urgent or self._clock() - self._last_write >= self.min_interval
        if due:
            self._attempt(touch=False)

    def _attempt(self, *, touch: bool) -> None:
        """One try at writing what is pending (or a heartbeat when ``touch``)."""
        try:
            if self.pending:
                self._pending.deliver(self._written, strict=True)
            elif touch:
                self._noted(services.heartbeat(self.session_id))
        except retry.TRANSIENT_ERRORS as exc:
            self._failed(exc)
            return
        self._delivered()

    def _delivered(self) -> None:
        self._retry.recovered()
        self._last_write = self._clock()

    def _failed(self, exc: Exception) -> None:
        """After a transient error: a fresh connection for the next try, which is scheduled
        (or, once the grace period is over, ``ProgressStoreUnavailable``)."""
        self._connections.discard_broken()
        self._retry.failed(exc)

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
        if not self._retry.failing:
            return self.heartbeat_interval
        # While the store is away, retry on schedule even when the job reports nothing.
        return max(0.05, min(self.heartbeat_interval, self._retry.wait()))

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self._next_beat()):
                with self._lock:
                    if self.finished or self.cancelled:
                        return
                    if self._retry.failing:
                        due = self._retry.due()
                    else:
                        idle = self._clock() - self._last_write
                        due = self.pending or idle >= self.heartbeat_interval
                    if not due:
                        continue
                    try:
                        self._attempt(touch=True)
                    except Exception:
                        logger.exception("Heartbeat of session %s failed", self.session_id)
        finally:
            # The connections this thread's writes opened must not outlive it.
            self._connections.close()

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


_MOVED = ("TRANSIENT_ERRORS", "RETRY_FIRST_DELAY", "RETRY_MAX_DELAY")

if not TYPE_CHECKING:  # so that mypy still reports a misspelt attribute of this module
    __getattr__ = moved_names(__name__, dict.fromkeys(_MOVED, "progress_tracking.retry"))
