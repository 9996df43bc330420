"""System checks of the ``PROGRESS_TRACKING`` values, alone and together."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .conf import (
    BOOL_KEYS,
    DEFAULTS,
    DURATION_KEYS,
    POSITIVE_INT_KEYS,
    POSITIVE_NUMBER_KEYS,
    as_timedelta,
)

# STALE_AFTER must be at least this many heartbeat intervals.
HEARTBEAT_MARGIN = 3
CLASS_LIST_KEYS = ("PERMISSION_CLASSES", "AUTHENTICATION_CLASSES")
CLASS_LIST_HINT = (
    "Use a list of DRF classes or their dotted paths, e.g. "
    "['rest_framework.permissions.IsAuthenticated']."
)


def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if not isinstance(raw, dict):
        return [
            checks.Error(
                "PROGRESS_TRACKING must be a dict.",
                hint="Set PROGRESS_TRACKING = {'STALE_AFTER': 300, ...} or remove it.",
                id="progress_tracking.E003",
            )
        ]
    found = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        found.append(
            checks.Error(
                f"Unknown PROGRESS_TRACKING key(s): {', '.join(unknown)}.",
                hint=f"Valid keys are {', '.join(sorted(DEFAULTS))}.",
                id="progress_tracking.E004",
            )
        )
    for key in (*DURATION_KEYS, "HISTORY_RETENTION"):
        if key in raw and not _positive_duration(raw[key]):
            found.append(
                checks.Error(
                    f"PROGRESS_TRACKING['{key}'] must be a positive number of seconds or "
                    f"timedelta, not {raw[key]!r}.",
                    hint=f"The default is {_default_seconds(key)}.",
                    id="progress_tracking.E005",
                )
            )
    for key in POSITIVE_NUMBER_KEYS + POSITIVE_INT_KEYS:
        value = raw.get(key, DEFAULTS[key])
        if not _positive_number(value, integer=key in POSITIVE_INT_KEYS):
            kind = "integer" if key in POSITIVE_INT_KEYS else "number"
            found.append(
                checks.Error(
                    f"PROGRESS_TRACKING['{key}'] must be a positive {kind}, not {value!r}.",
                    hint=f"The default is {DEFAULTS[key]}.",
                    id="progress_tracking.E010",
                )
            )
    for key in BOOL_KEYS:
        flag = raw.get(key, DEFAULTS[key])
        if not isinstance(flag, bool):
            found.append(
                checks.Error(
                    f"PROGRESS_TRACKING['{key}'] must be True or False, not {flag!r}.",
                    hint=f"The default is {DEFAULTS[key]}.",
                    id="progress_tracking.E011",
                )
            )
    for key in CLASS_LIST_KEYS:
        if key in raw:
            found.extend(_class_list_errors(key, raw[key]))
    return found


def _class_list_errors(key: str, value: object) -> list[checks.Error]:
    # AUTHENTICATION_CLASSES = None keeps the host's DRF defaults.
    if value is None and key == "AUTHENTICATION_CLASSES":
        return []
    if not isinstance(value, list | tuple) or not all(
        isinstance(entry, str | type) for entry in value
    ):
        return [
            checks.Error(
                f"PROGRESS_TRACKING['{key}'] must be a list or tuple of classes or dotted "
                f"paths, not {value!r}.",
                hint=CLASS_LIST_HINT,
                id="progress_tracking.E012",
            )
        ]
    for entry in value:
        if isinstance(entry, str):
            try:
                import_string(entry)
            except ImportError as exc:
                return [
                    checks.Error(
                        f"PROGRESS_TRACKING['{key}'] names {entry!r}, which cannot be "
                        f"imported: {exc}",
                        hint=f"Check the dotted path and that its package is installed. "
                        f"{CLASS_LIST_HINT}",
                        id="progress_tracking.E014",
                    )
                ]
    return []


def _default_seconds(key: str) -> str:
    if key == "HISTORY_RETENTION":
        return "2592000 seconds (30 days)"
    return f"{DEFAULTS[key]} seconds"


def _positive_number(value: object, *, integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return value > 0


def _positive_duration(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        seconds = as_timedelta(value).total_seconds()
    except (TypeError, ValueError, OverflowError):  # "300", nan, 1e300
        return False
    return seconds > 0


def _seconds(raw: dict[str, Any], key: str) -> float | None:
    """A timing setting in seconds, or None when it is invalid (E005, E010 report that)."""
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, bool):
        return None
    try:
        seconds = as_timedelta(value).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def check_setting_combinations(
    app_configs: Iterable[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Settings that are each valid but cannot work together."""
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if not isinstance(raw, dict):
        return []  # E003
    stale = _seconds(raw, "STALE_AFTER")
    ttl = _seconds(raw, "FINISHED_TTL")
    heartbeat = _seconds(raw, "HEARTBEAT_INTERVAL")
    poll = _seconds(raw, "POLL_INTERVAL")
    grace = _seconds(raw, "RECORDER_GRACE_PERIOD")
    found: list[Any] = []
    # The recorder wakes every interval and writes when idle for one, so two heartbeats can be
    # almost two intervals apart; a third keeps a slow write from tipping a live session over.
    if stale and heartbeat and heartbeat * HEARTBEAT_MARGIN > stale:
        found.append(
            checks.Error(
                f"PROGRESS_TRACKING['HEARTBEAT_INTERVAL'] ({heartbeat:g} s) is not well below "
                f"STALE_AFTER ({stale:g} s): a live worker's session can go stale between two "
                "heartbeats, and pollers then report it as interrupted.",
                hint=f"Keep HEARTBEAT_INTERVAL at most STALE_AFTER / {HEARTBEAT_MARGIN} "
                f"({stale / HEARTBEAT_MARGIN:g} s here), or raise STALE_AFTER.",
                id="progress_tracking.E006",
            )
        )
    if ttl and poll and ttl <= poll:
        found.append(
            checks.Error(
                f"PROGRESS_TRACKING['FINISHED_TTL'] ({ttl:g} s) is not longer than "
                f"POLL_INTERVAL ({poll:g} s): a finished session can vanish between two polls, "
                "so the browser reports 'not found' instead of its result.",
                hint="Keep FINISHED_TTL many times POLL_INTERVAL (defaults: 300 s and 1 s).",
                id="progress_tracking.E007",
            )
        )
    if stale and grace and grace >= stale:
        found.append(
            checks.Warning(
                f"PROGRESS_TRACKING['RECORDER_GRACE_PERIOD'] ({grace:g} s) is not shorter than "
                f"STALE_AFTER ({stale:g} s): after an outage that long the session is stale "
                "and every buffered write is refused, so the retries cannot succeed.",
                hint="Keep RECORDER_GRACE_PERIOD below STALE_AFTER (defaults: 120 s, 300 s).",
                id="progress_tracking.W001",
            )
        )
    return found + _sweep_interval_warnings(raw)


def _sweep_interval_warnings(raw: dict[str, Any]) -> list[Any]:
    """An automatic sweep interval longer than a stale period keeps dead data that long."""
    if "AUTO_CLEANUP_INTERVAL" not in raw:
        return []  # the default interval shrinks to fit the stale periods
    interval = raw["AUTO_CLEANUP_INTERVAL"]
    periods = [raw.get(key, DEFAULTS[key]) for key in DURATION_KEYS]
    if raw.get("AUTO_CLEANUP", True) is not True or not all(
        _positive_duration(value) for value in (interval, *periods)
    ):
        return []  # disabled, or already reported as an error
    shortest = min(as_timedelta(value) for value in periods)
    if as_timedelta(interval) <= shortest:
        return []
    return [
        checks.Warning(
            f"PROGRESS_TRACKING['AUTO_CLEANUP_INTERVAL'] ({interval!r} s) is longer than "
            f"the shortest stale period ({shortest.total_seconds():g} s): stale progress stays "
            "stored up to one interval after it became removable.",
            hint="Use an interval no longer than STALE_AFTER and FINISHED_TTL, or remove it "
            "(the default is 60 s, or the shortest stale period if that is shorter).",
            id="progress_tracking.W002",
        )
    ]
