"""The app's settings: one ``PROGRESS_TRACKING`` dict, read lazily.

Defaults live here and nowhere else. Values are read on every access (cheap dict lookups), so
``override_settings`` and ``setting_changed`` need no cache invalidation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings

DEFAULT_MODEL = "progress_tracking.Knowledge"

DEFAULTS: dict[str, Any] = {
    # A processing session not updated for this long is stale (seconds or timedelta).
    "STALE_AFTER": 300,
    # A finished session stays readable for this long after it finished.
    "FINISHED_TTL": 300,
    # Seconds between polls that the API advises clients (X-Poll-Interval).
    "POLL_INTERVAL": 1,
    # Per-file entries returned in one status body.
    "FILES_LIMIT": 100,
    # Most file entries one session may track; each update rewrites them all.
    "MAX_FILES_PER_SESSION": 1000,
    # Largest total_files a session may announce.
    "MAX_TOTAL_FILES": 1_000_000,
    # DRF permission classes of the API views (dotted paths or classes).
    "PERMISSION_CLASSES": (
        "rest_framework.permissions.IsAuthenticated",
        "progress_tracking.permissions.IsOwnerOrStaff",
    ),
    # DRF authentication classes of the API views; None keeps the host's DRF defaults.
    "AUTHENTICATION_CLASSES": None,
    # Foreign key to the user on the progress model; None means only staff see sessions.
    # A model's own ``progress_owner_field`` attribute wins over this.
    "OWNER_FIELD": "user",
    # Active staff (``is_staff is True``) may read and clear every user's sessions.
    "STAFF_ACCESS": True,
    # ProgressRecorder: minimum seconds between two coalesced writes.
    "RECORDER_MIN_INTERVAL": 0.5,
    # ProgressRecorder: seconds between heartbeats while the worker lives.
    "HEARTBEAT_INTERVAL": 30,
    # ProgressRecorder: seconds it keeps retrying through a database outage (buffering what
    # the job reports) before the job sees the error.
    "RECORDER_GRACE_PERIOD": 120,
    # cleanup_stale_progress: rows changed per transaction.
    "CLEANUP_BATCH_SIZE": 1000,
    # Sweep stale progress automatically, triggered by progress traffic (see sweeper.py).
    # False for hosts that schedule ``manage.py cleanup_progress`` themselves.
    "AUTO_CLEANUP": True,
    # Seconds between two automatic sweeps (site-wide, whatever the number of processes);
    # when not set, the shortest of STALE_AFTER and FINISHED_TTL if that is shorter.
    "AUTO_CLEANUP_INTERVAL": 60,
    # Keep a history record of every finished session (model ProgressHistory).
    "HISTORY": True,
    # How long history records are kept after their session finished (seconds or
    # timedelta; 30 days). cleanup_progress and the automatic sweep prune older ones.
    "HISTORY_RETENTION": 30 * 24 * 3600,
    # PostgreSQL: write progress on a separate connection when the caller is inside its own
    # transaction, so pollers see it before the caller commits.
    "WRITE_OUTSIDE_TRANSACTION": True,
    # Alias of one of the host's CACHES for the fast status read path; None reads the database.
    "CACHE": None,
    # Seconds a signed read capability (X-Progress-Capability) stays valid; at most a day.
    "CAPABILITY_MAX_AGE": 600,
}

DURATION_KEYS = ("STALE_AFTER", "FINISHED_TTL")
POSITIVE_NUMBER_KEYS = (
    "POLL_INTERVAL",
    "RECORDER_MIN_INTERVAL",
    "HEARTBEAT_INTERVAL",
    "AUTO_CLEANUP_INTERVAL",
    "RECORDER_GRACE_PERIOD",
    "CAPABILITY_MAX_AGE",
)
# A capability outliving this is no longer "short-lived": refused by a system check.
CAPABILITY_MAX_AGE_LIMIT = 86400
POSITIVE_INT_KEYS = (
    "FILES_LIMIT",
    "CLEANUP_BATCH_SIZE",
    "MAX_FILES_PER_SESSION",
    "MAX_TOTAL_FILES",
)
BOOL_KEYS = ("WRITE_OUTSIDE_TRANSACTION", "STAFF_ACCESS", "AUTO_CLEANUP", "HISTORY")


def user_settings() -> dict[str, Any]:
    value = getattr(settings, "PROGRESS_TRACKING", None)
    return value if isinstance(value, dict) else {}


def as_timedelta(value: object) -> timedelta:
    """A duration setting's value: a timedelta, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    raise TypeError(f"A duration is a timedelta or a number of seconds, not {value!r}.")


def _setting(name: str) -> Any:
    # The host's value as given, or the default; the system checks (checks.py) refuse values
    # of the wrong type, so each property below can state its type.
    return user_settings().get(name, DEFAULTS[name])


class AppSettings:
    """The merged settings, one typed property each: ``app_settings.STALE_AFTER``.

    A property per setting (rather than ``__getattr__``) lets mypy see a misspelt name.
    """

    @property
    def STALE_AFTER(self) -> timedelta:
        return as_timedelta(_setting("STALE_AFTER"))

    @property
    def FINISHED_TTL(self) -> timedelta:
        return as_timedelta(_setting("FINISHED_TTL"))

    @property
    def POLL_INTERVAL(self) -> float:
        return _setting("POLL_INTERVAL")

    @property
    def FILES_LIMIT(self) -> int:
        return _setting("FILES_LIMIT")

    @property
    def MAX_FILES_PER_SESSION(self) -> int:
        return _setting("MAX_FILES_PER_SESSION")

    @property
    def MAX_TOTAL_FILES(self) -> int:
        return _setting("MAX_TOTAL_FILES")

    @property
    def PERMISSION_CLASSES(self) -> Sequence[str | type]:
        return _setting("PERMISSION_CLASSES")

    @property
    def AUTHENTICATION_CLASSES(self) -> Sequence[str | type] | None:
        return _setting("AUTHENTICATION_CLASSES")

    @property
    def OWNER_FIELD(self) -> str | None:
        return _setting("OWNER_FIELD")

    @property
    def STAFF_ACCESS(self) -> bool:
        return _setting("STAFF_ACCESS")

    @property
    def RECORDER_MIN_INTERVAL(self) -> float:
        return _setting("RECORDER_MIN_INTERVAL")

    @property
    def HEARTBEAT_INTERVAL(self) -> float:
        return _setting("HEARTBEAT_INTERVAL")

    @property
    def RECORDER_GRACE_PERIOD(self) -> float:
        return _setting("RECORDER_GRACE_PERIOD")

    @property
    def CLEANUP_BATCH_SIZE(self) -> int:
        return _setting("CLEANUP_BATCH_SIZE")

    @property
    def AUTO_CLEANUP(self) -> bool:
        return _setting("AUTO_CLEANUP")

    @property
    def AUTO_CLEANUP_INTERVAL(self) -> float:
        return _setting("AUTO_CLEANUP_INTERVAL")

    @property
    def HISTORY(self) -> bool:
        return _setting("HISTORY")

    @property
    def HISTORY_RETENTION(self) -> timedelta:
        return as_timedelta(_setting("HISTORY_RETENTION"))

    @property
    def WRITE_OUTSIDE_TRANSACTION(self) -> bool:
        return _setting("WRITE_OUTSIDE_TRANSACTION")

    @property
    def CACHE(self) -> str | None:
        return _setting("CACHE")

    @property
    def CAPABILITY_MAX_AGE(self) -> float:
        return _setting("CAPABILITY_MAX_AGE")

    @property
    def MODEL(self) -> str:
        return getattr(settings, "PROGRESS_TRACKING_MODEL", DEFAULT_MODEL)


app_settings = AppSettings()
