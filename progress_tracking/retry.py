"""How ``ProgressRecorder`` rides out a database outage: what is worth retrying, when to try
again, when to give up, and the connections a failed write leaves behind.

A write that fails with a connection or lock error is retried with backoff (doubling from
``RETRY_FIRST_DELAY`` to ``RETRY_MAX_DELAY``, jittered) until the store has been unreachable
for the grace period; then the job sees ``ProgressStoreUnavailable``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections

from . import hosts, selectors
from .exceptions import ProgressStoreUnavailable

logger = logging.getLogger("progress_tracking.recorder")

# Errors that say "the store is not reachable right now", not "this write is wrong":
# connection refused or reset, server shutting down, lock and statement timeouts.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
# Backoff between retries after a failed write: doubles from the first to the last, jittered.
RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 10.0


class RetrySchedule:
    """The state of an outage as one recorder sees it: since when, and when to try again."""

    def __init__(self, session_id: str, grace_period: float, clock: Callable[[], float]) -> None:
        self.session_id = session_id
        self.grace_period = grace_period
        self._clock = clock
        # Set while writes fail: when the first failure happened, how many followed, and when
        # the next attempt is due.
        self.failing_since: float | None = None
        self._failures = 0
        self.retry_at = float("-inf")

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def due(self) -> bool:
        return self._clock() >= self.retry_at

    def wait(self) -> float:
        """Seconds until the next attempt is due (0 when it is)."""
        return max(0.0, self.retry_at - self._clock())

    def failed(self, exc: Exception) -> None:
        """Schedule the next attempt after a transient error, or give up after the grace."""
        now = self._clock()
        if self.failing_since is None:
            logger.warning(
                "Progress of session %s is not reaching the database (%s); retrying for %s s",
                self.session_id,
                exc,
                self.grace_period,
            )
            self.failing_since = now
        if now - self.failing_since >= self.grace_period:
            raise ProgressStoreUnavailable(
                f"Progress of session {self.session_id} could not be written for "
                f"{now - self.failing_since:.1f} s: {exc}"
            ) from exc
        delay = min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2**self._failures)
        self._failures += 1
        self.retry_at = min(
            now + delay * random.uniform(0.5, 1.0), self.failing_since + self.grace_period
        )

    def recovered(self) -> None:
        if self.failing_since is not None:
            logger.info("Progress of session %s is delivered again", self.session_id)
        self.failing_since = None
        self._failures = 0


class WriteConnections:
    """This thread's connections to the databases a session's writes go to.

    ``hosts.write_aliases`` names them (resolved on first use). After a transient error they
    are discarded so the next try reconnects; a thread that wrote closes them when it ends.
    Other connections of the thread are not the recorder's to touch.
    """

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._aliases: list[str] | None = None

    @property
    def aliases(self) -> list[str]:
        if self._aliases is None:
            uuid_ = selectors.parse_session_id(self.session_id)
            self._aliases = [] if uuid_ is None else hosts.write_aliases(uuid_)
        return self._aliases

    def close(self) -> None:
        for alias in self.aliases:
            connections[alias].close()

    def discard_broken(self) -> None:
        """Close them after a network error, so the next try reconnects.

        Django reopens a closed connection by itself, but keeps using one that the server
        dropped. Inside a transaction the connection is the caller's to manage; SQLite has no
        network to lose (a "locked" error leaves its connection usable).
        """
        for alias in self.aliases:
            connection = connections[alias]
            if connection.vendor == "sqlite" or connection.in_atomic_block:
                continue
            try:
                connection.close()
            except Exception:  # a dead socket may fail to close cleanly; it is gone either way
                connection.connection = None
