"""What a ``ProgressRecorder``'s job reported and the database does not have yet.

Newer values replace older ones (per file, and for the session's own fields), so a tight loop
costs one write per interval whatever it reports. A value leaves the buffer only once the
database has it, or has refused it for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import services
from .models import FINAL_FILE_STATUSES
from .payload import Progress
from .retry import TRANSIENT_ERRORS

logger = logging.getLogger("progress_tracking.recorder")


class PendingProgress:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.session: dict[str, Any] | None = None
        self.files: dict[str, dict[str, Any]] = {}
        self._file_status: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.files) or self.session is not None

    def add_update(
        self, progress: float | None, message: str | None, fields: dict[str, Any]
    ) -> None:
        pending = self.session or {}
        if progress is not None:
            pending["progress"] = progress
        if message is not None:
            pending["message"] = message
        pending.update(fields)
        self.session = pending

    def add_file(self, filename: str, **values: Any) -> bool:
        """Buffer a file's values; True when they must be written at once (a status change)."""
        status = values["status"]
        urgent = self._file_status.get(filename) != status or status in FINAL_FILE_STATUSES
        self._file_status[filename] = status
        self.files[filename] = values
        return urgent

    def clear(self) -> None:
        self.files.clear()
        self.session = None

    def deliver(self, written: Callable[[Progress], None], *, strict: bool) -> None:
        """Write what is pending, calling ``written`` with what each write returned.

        A transient error propagates and keeps the value (and those after it) pending. Any other
        error drops the value (retrying it is pointless) and propagates when ``strict``; else
        it is logged and the others are still written.
        """
        for name in list(self.files):
            values = self.files[name]
            try:
                progress = services.update_file_progress(self.session_id, name, **values)
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                del self.files[name]
                if strict:
                    raise
                logger.exception(
                    "Could not write progress of %s (session %s)", name, self.session_id
                )
                continue
            del self.files[name]
            written(progress)
        if self.session is not None:
            try:
                progress = services.update_progress(self.session_id, **self.session)
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                self.session = None
                if strict:
                    raise
                logger.exception("Could not write progress of session %s", self.session_id)
                return
            self.session = None
            written(progress)
