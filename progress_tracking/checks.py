"""System checks for the app's settings (ids progress_tracking.E001..., W001...)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils.module_loading import import_string

from .conf import (
    BOOL_KEYS,
    CAPABILITY_MAX_AGE_LIMIT,
    DEFAULTS,
    DURATION_KEYS,
    POSITIVE_INT_KEYS,
    POSITIVE_NUMBER_KEYS,
    as_timedelta,
)

# STALE_AFTER must be at least this many heartbeat intervals.
HEARTBEAT_MARGIN = 3


def register() -> None:
    checks.register(check_settings, checks.Tags.compatibility)
    checks.register(check_setting_combinations, checks.Tags.compatibility)
    checks.register(check_model, checks.Tags.models)
    checks.register(check_authentication, checks.Tags.security)
    checks.register(check_fast_path, checks.Tags.caches)


def _error(msg: str, hint: str, id_: str) -> checks.Error:
    return checks.Error(msg, hint=hint, id=f"progress_tracking.{id_}")


def check_settings(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if not isinstance(raw, dict):
        return [
            _error(
                "PROGRESS_TRACKING must be a dict.",
                "Set PROGRESS_TRACKING = {'STALE_AFTER': 300, ...} or remove it.",
                "E003",
            )
        ]
    errors = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        errors.append(
            _error(
                f"Unknown PROGRESS_TRACKING key(s): {', '.join(unknown)}.",
                f"Valid keys are {', '.join(sorted(DEFAULTS))}.",
                "E004",
            )
        )
    for key in DURATION_KEYS:
        if key in raw and not _positive_duration(raw[key]):
            errors.append(
                _error(
                    f"PROGRESS_TRACKING['{key}'] must be a positive number of seconds or "
                    f"timedelta, not {raw[key]!r}.",
                    f"The default is {DEFAULTS[key]} seconds.",
                    "E005",
                )
            )
    if "HISTORY_RETENTION" in raw and not _positive_duration(raw["HISTORY_RETENTION"]):
        errors.append(
            _error(
                "PROGRESS_TRACKING['HISTORY_RETENTION'] must be a positive number of seconds "
                f"or timedelta, not {raw['HISTORY_RETENTION']!r}.",
                "The default is 2592000 seconds (30 days).",
                "E005",
            )
        )
    for key in POSITIVE_NUMBER_KEYS + POSITIVE_INT_KEYS:
        value = raw.get(key, DEFAULTS[key])
        ok = isinstance(value, int if key in POSITIVE_INT_KEYS else int | float)
        if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            ok = False
        if not ok or value <= 0:
            errors.append(
                _error(
                    f"PROGRESS_TRACKING['{key}'] must be a positive "
                    f"{'integer' if key in POSITIVE_INT_KEYS else 'number'}, not {value!r}.",
                    f"The default is {DEFAULTS[key]}.",
                    "E005",
                )
            )
    for key in ("PERMISSION_CLASSES", "AUTHENTICATION_CLASSES"):
        # AUTHENTICATION_CLASSES = None keeps the host's DRF defaults.
        allow_none = key == "AUTHENTICATION_CLASSES"
        problem = _class_list_problem(raw[key], allow_none) if key in raw else None
        if problem:
            errors.append(
                _error(
                    f"PROGRESS_TRACKING['{key}'] {problem}",
                    "Use a list of DRF classes or their dotted paths, e.g. "
                    "['rest_framework.permissions.IsAuthenticated'].",
                    "E005",
                )
            )
    for key in BOOL_KEYS:
        flag = raw.get(key, DEFAULTS[key])
        if not isinstance(flag, bool):
            errors.append(
                _error(
                    f"PROGRESS_TRACKING['{key}'] must be True or False, not {flag!r}.",
                    f"The default is {DEFAULTS[key]}.",
                    "E005",
                )
            )
    return errors + _sweep_interval_warnings(raw)


def _sweep_interval_warnings(raw: dict[str, Any]) -> list[Any]:
    """An automatic sweep interval longer than a stale period keeps dead data that long."""
    if "AUTO_CLEANUP_INTERVAL" not in raw:
        return []  # the default interval shrinks to fit the stale periods
    interval = raw["AUTO_CLEANUP_INTERVAL"]
    periods = [raw.get(key, DEFAULTS[key]) for key in DURATION_KEYS]
    if raw.get("AUTO_CLEANUP", True) is not True or not all(
        _positive_duration(value) for value in (interval, *periods)
    ):
        return []  # disabled, or already reported as an error above
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


def _class_list_problem(value: object, allow_none: bool) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, list | tuple):
        return f"must be a list or tuple of classes or dotted paths, not {value!r}."
    for entry in value:
        if isinstance(entry, str):
            try:
                import_string(entry)
            except ImportError as exc:
                return f"names {entry!r}, which cannot be imported: {exc}"
        elif not isinstance(entry, type):
            return f"holds {entry!r}, which is neither a class nor a dotted path."
    return None


def _positive_duration(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        seconds = as_timedelta(value).total_seconds()
    except (TypeError, ValueError, OverflowError):  # "300", nan, 1e300
        return False
    return seconds > 0


def _seconds(raw: dict[str, Any], key: str) -> float | None:
    """A timing setting in seconds, or None when it is invalid (E005 reports that)."""
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
) -> list[Any]:
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
            _error(
                f"PROGRESS_TRACKING['HEARTBEAT_INTERVAL'] ({heartbeat:g} s) is not well below "
                f"STALE_AFTER ({stale:g} s): a live worker's session can go stale between two "
                "heartbeats, and pollers then report it as interrupted.",
                f"Keep HEARTBEAT_INTERVAL at most STALE_AFTER / {HEARTBEAT_MARGIN} "
                f"({stale / HEARTBEAT_MARGIN:g} s here), or raise STALE_AFTER.",
                "E006",
            )
        )
    if ttl and poll and ttl <= poll:
        found.append(
            _error(
                f"PROGRESS_TRACKING['FINISHED_TTL'] ({ttl:g} s) is not longer than "
                f"POLL_INTERVAL ({poll:g} s): a finished session can vanish between two polls, "
                "so the browser reports 'not found' instead of its result.",
                "Keep FINISHED_TTL many times POLL_INTERVAL (defaults: 300 s and 1 s).",
                "E007",
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
    return found


def check_model(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    from .models import get_progress_model

    label = getattr(settings, "PROGRESS_TRACKING_MODEL", None)
    if label is not None and not isinstance(label, str):
        return [
            _error(
                f"PROGRESS_TRACKING_MODEL must be a string 'app_label.ModelName', not {label!r}.",
                "Set it like AUTH_USER_MODEL, e.g. 'myapp.Document'.",
                "E001",
            )
        ]
    try:
        get_progress_model()
    except ImproperlyConfigured as exc:
        return [
            _error(
                str(exc),
                "Set PROGRESS_TRACKING_MODEL to an installed model that inherits "
                "AbstractProgressModel, e.g. 'myapp.Document', or remove the setting to use "
                "progress_tracking.Knowledge.",
                "E001",
            )
        ]
    from .hosts import owner_field, progress_models

    problems = (_owner_problem(host, owner_field(host)) for host in progress_models())
    return [problem for problem in problems if problem is not None]


def _owner_problem(model: Any, owner: str | None) -> checks.Error | None:
    if not owner:
        return None
    try:
        field = model._meta.get_field(owner)
    except FieldDoesNotExist:
        field = None
    if isinstance(field, models.ForeignKey) and _points_to_user(field):
        return None
    own = "progress_owner_field" in {k for c in model.__mro__ for k in vars(c)}
    name = f"{model.__name__}.progress_owner_field" if own else "PROGRESS_TRACKING['OWNER_FIELD']"
    return _error(
        f"{name} is {owner!r}, which is not a foreign key to the user model on "
        f"{model._meta.label}.",
        f"Set {name} to the ForeignKey to AUTH_USER_MODEL that owns a row, or to None so "
        "that only staff can read that model's sessions through the API.",
        "E002",
    )


def check_authentication(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Warn when the progress API would authenticate nobody (every owner gets 401/403)."""
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    own = raw.get("AUTHENTICATION_CLASSES") if isinstance(raw, dict) else None
    if own is not None:
        classes, where = own, "PROGRESS_TRACKING['AUTHENTICATION_CLASSES']"
    else:
        from rest_framework.settings import api_settings

        classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        where = "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']"
    if isinstance(classes, list | tuple) and len(classes) == 0:
        return [
            checks.Warning(
                f"The progress API has no authentication classes ({where} is empty): every "
                "request is anonymous, so owners get 401/403 for their own sessions.",
                hint="Set PROGRESS_TRACKING['AUTHENTICATION_CLASSES'] to the classes your "
                "site logs users in with, e.g. "
                "['rest_framework.authentication.SessionAuthentication'] (see install.md).",
                id="progress_tracking.W010",
            )
        ]
    return []


def _points_to_user(field: models.ForeignKey[Any, Any]) -> bool:
    target = field.remote_field.model
    label = target if isinstance(target, str) else target._meta.label
    return str(label).lower() == settings.AUTH_USER_MODEL.lower()


# Cache backends the fast path must not rely on: each process has its own (workers' writes
# never reach the web processes'), or ``add`` is not atomic.
PER_PROCESS_CACHES = frozenset({"LocMemCache", "FileBasedCache"})


def check_fast_path(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The read cache names one of the host's CACHES; capabilities stay short-lived."""
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if not isinstance(raw, dict):
        return []  # reported by check_settings
    errors: list[checks.CheckMessage] = []
    alias = raw.get("CACHE")
    if alias is not None and (not isinstance(alias, str) or alias not in settings.CACHES):
        errors.append(
            _error(
                f"PROGRESS_TRACKING['CACHE'] is {alias!r}, which is not an alias in CACHES.",
                f"Use one of {', '.join(sorted(settings.CACHES))}, or None to read the database.",
                "E013",
            )
        )
    elif alias is not None:
        backend = str(settings.CACHES[alias].get("BACKEND", ""))
        if backend.rsplit(".", 1)[-1] in PER_PROCESS_CACHES:
            errors.append(
                checks.Warning(
                    f"PROGRESS_TRACKING['CACHE'] uses {backend}, which is not shared by all "
                    "processes (or has no atomic add): polls may show progress older than the "
                    "database.",
                    hint="Use Redis (progress_tracking.redis_cache.RedisCache) or Memcached.",
                    id="progress_tracking.W013",
                )
            )
    max_age = raw.get("CAPABILITY_MAX_AGE", DEFAULTS["CAPABILITY_MAX_AGE"])
    numeric = isinstance(max_age, int | float) and not isinstance(max_age, bool)
    if numeric and max_age > CAPABILITY_MAX_AGE_LIMIT:
        errors.append(
            _error(
                f"PROGRESS_TRACKING['CAPABILITY_MAX_AGE'] is {max_age!r} seconds; a read "
                f"capability may live at most {CAPABILITY_MAX_AGE_LIMIT} seconds.",
                f"The default is {DEFAULTS['CAPABILITY_MAX_AGE']}: clients renew it through "
                "their normal authentication.",
                "E005",
            )
        )
    return errors
