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
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any
from uuid import UUID

from django.db import connection

from . import services, state
from .conf import app_settings
from .models import FINAL_FILE_STATUSES

logger = logging.getLogger(__name__)


class ProgressRecorder:
    def __init__(
        self,
        session_id: str | UUID,
        *,
        min_interval: float | None = None,
        heartbeat_interval: float | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.session_id = str(session_id)
        self.min_interval = (
            app_settings.RECORDER_MIN_INTERVAL if min_interval is None else min_interval
        )
        self.heartbeat_interval = (
            app_settings.HEARTBEAT_INTERVAL if heartbeat_interval is None else heartbeat_interval
        )
        self._clock = clock
        self._lock = threading.RLock()
        self._pending_session: dict[str, Any] | None = None
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._file_status: dict[str, str] = {}
        self._last_write = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = False
        self.writes = 0

    # -- reporting -------------------------------------------------------------------------

    def update(
        self, progress: float | None = None, message: str | None = None, **fields: Any
    ) -> None:
        """Coalesced ``update_progress``; arguments are validated at once."""
        state.check_update_args(progress, message, fields)
        with self._lock:
            pending = self._pending_session or {}
            if progress is not None:
                pending["progress"] = progress
            if message is not None:
                pending["message"] = message
            pending.update(fields)
            self._pending_session = pending
            self._maybe_flush(urgent=False)

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
            urgent = self._file_status.get(filename) != status or status in FINAL_FILE_STATUSES
            self._file_status[filename] = status
            self._pending_files[filename] = {
                "progress": progress,
                "status": status,
                "message": message,
                "error": error,
            }
            self._maybe_flush(urgent=urgent)

    def complete(self, message: str | None = None) -> dict[str, Any]:
        with self._lock:
            self.flush()
            self.finished = True
            return services.mark_session_complete(self.session_id, message)

    def fail(self, error: object) -> dict[str, Any]:
        with self._lock:
            try:
                self.flush()
            except Exception:  # the failure itself must be recorded whatever else went wrong
                logger.exception("Could not flush progress of session %s", self.session_id)
            self.finished = True
            return services.mark_session_error(self.session_id, error)

    def flush(self) -> None:
        """Write everything pending now."""
        with self._lock:
            files, self._pending_files = self._pending_files, {}
            for name, values in files.items():
                services.update_file_progress(self.session_id, name, **values)
                self.writes += 1
            pending, self._pending_session = self._pending_session, None
            if pending is not None:
                services.update_progress(self.session_id, **pending)
                self.writes += 1
            self._last_write = self._clock()

    def _maybe_flush(self, *, urgent: bool) -> None:
        if urgent or self._clock() - self._last_write >= self.min_interval:
            self.flush()

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

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.heartbeat_interval):
                with self._lock:
                    if self.finished:
                        return
                    idle = self._clock() - self._last_write >= self.heartbeat_interval
                    try:
                        if self._pending_files or self._pending_session:
                            self.flush()
                        elif idle:
                            services.heartbeat(self.session_id)
                            self._last_write = self._clock()
                    except Exception:
                        logger.exception("Heartbeat of session %s failed", self.session_id)
        finally:
            # This thread's own database connection must not outlive it.
            connection.close()

    def __enter__(self) -> ProgressRecorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.finished:
            return
        if exc is not None:
            self.fail(exc)
        else:
            self.flush()
