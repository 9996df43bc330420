"""System checks for the app's settings (ids progress_tracking.E001...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

from .conf import (
    DEFAULTS,
    DURATION_KEYS,
    POSITIVE_INT_KEYS,
    POSITIVE_NUMBER_KEYS,
    as_timedelta,
)


def register() -> None:
    checks.register(check_settings, checks.Tags.compatibility)
    checks.register(check_model, checks.Tags.models)


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
        if not ok or isinstance(value, bool) or value <= 0:
            errors.append(
                _error(
                    f"PROGRESS_TRACKING['{key}'] must be a positive "
                    f"{'integer' if key in POSITIVE_INT_KEYS else 'number'}, not {value!r}.",
                    f"The default is {DEFAULTS[key]}.",
                    "E005",
                )
            )
    return errors


def _positive_duration(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return as_timedelta(value).total_seconds() > 0
    except TypeError:
        return False


def check_model(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    from .models import get_progress_model

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
