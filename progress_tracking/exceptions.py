"""Exceptions raised by the progress-tracking services."""

from __future__ import annotations

from .text import describe


class ProgressError(Exception):
    """Base class for every error this app raises on purpose."""


class InvalidProgressData(ProgressError, ValueError):
    """A value given to a service is out of range, of the wrong type or inconsistent.

    Nothing was written: the stored progress is exactly as it was before the call.
    """


class SessionNotFound(ProgressError, LookupError):
    """No stored session has this id (or the id is not a UUID)."""

    def __init__(self, session_id: object) -> None:
        self.session_id = session_id
        super().__init__(f"No progress session with id {describe(session_id)}.")


class SessionStale(SessionNotFound):
    """The session exists but is stale: readers already treat it as gone, so it stays gone.

    A processing session not written for ``STALE_AFTER`` (its worker looked dead, pollers
    told the user the work was interrupted), or a finished one older than ``FINISHED_TTL``.
    """

    def __init__(self, session_id: object) -> None:
        super().__init__(session_id)
        self.args = (
            f"Progress session {describe(session_id)} is stale (not updated within "
            "STALE_AFTER); readers already treat it as gone, so it cannot be written. "
            "Stop the work, or start a new session to continue it.",
        )


class SessionActive(ProgressError):
    """The row already has a session that is still processing."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(
            f"Session {session_id} is still processing on this row; wait for it to finish "
            "or pass join_active=True to add files to it."
        )


class ProgressCancelled(ProgressError):
    """The session was cancelled (``request_cancel``): the job should stop.

    ``ProgressRecorder`` raises it from the report or heartbeat write that found the session
    cancelled; leaving the recorder's ``with`` block through it is quiet (the session is
    already ``cancelled``, its unfinished files too).
    """

    def __init__(self, session_id: object) -> None:
        self.session_id = session_id
        super().__init__(f"Progress session {describe(session_id)} was cancelled.")


class ProgressStoreUnavailable(ProgressError):
    """``ProgressRecorder`` could not reach the database for its whole grace period.

    What the job reported is still buffered in the recorder; the database error that ended
    the grace period is the ``__cause__``.
    """
