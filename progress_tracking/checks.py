"""System checks for the app's settings (ids progress_tracking.E001...)."""

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
    CAPABILITY_MAX_AGE_LIMIT,
    DEFAULTS,
    DURATION_KEYS,
    POSITIVE_INT_KEYS,
    POSITIVE_NUMBER_KEYS,
    as_timedelta,
)


def register() -> None:
    checks.register(check_settings, checks.Tags.compatibility)
    checks.register(check_model, checks.Tags.models)
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
    flag = raw.get("WRITE_OUTSIDE_TRANSACTION", True)
    if not isinstance(flag, bool):
        errors.append(
            _error(
                f"PROGRESS_TRACKING['WRITE_OUTSIDE_TRANSACTION'] must be True or False, "
                f"not {flag!r}.",
                "The default is True.",
                "E005",
            )
        )
    return errors


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
        model = get_progress_model()
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
    owner = DEFAULTS["OWNER_FIELD"]
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if isinstance(raw, dict):
        owner = raw.get("OWNER_FIELD", owner)
    if not owner:
        return []
    try:
        field = model._meta.get_field(owner)
    except FieldDoesNotExist:
        field = None
    if not isinstance(field, models.ForeignKey) or not _points_to_user(field):
        return [
            _error(
                f"PROGRESS_TRACKING['OWNER_FIELD'] is {owner!r}, which is not a foreign key to "
                f"the user model on {model._meta.label}.",
                "Name the ForeignKey to AUTH_USER_MODEL that owns a row, or set OWNER_FIELD to "
                "None so that only staff can read sessions through the API.",
                "E002",
            )
        ]
    return []


def _points_to_user(field: models.ForeignKey) -> bool:
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
