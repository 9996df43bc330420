"""System checks of the progress model: ``PROGRESS_TRACKING_MODEL`` and the owner field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

FALLBACK_HINT = "or remove the setting to use progress_tracking.Knowledge."
# What can be wrong with PROGRESS_TRACKING_MODEL: its id and hint.
MODEL_SETTING_PROBLEMS = {
    "not a label": (
        "progress_tracking.E001",
        f"Set it like AUTH_USER_MODEL, e.g. 'myapp.Document', {FALLBACK_HINT}",
    ),
    "not installed": (
        "progress_tracking.E008",
        "Add the model's app to INSTALLED_APPS or correct the label "
        f"('app_label.ModelName', as in the model's Meta), {FALLBACK_HINT}",
    ),
    "not a progress model": (
        "progress_tracking.E009",
        "Make the model inherit progress_tracking.models.AbstractProgressModel (then run "
        f"makemigrations), or name a model that does, {FALLBACK_HINT}",
    ),
}


def check_model(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    problem = _model_setting_problem()
    if problem is not None:
        message, kind = problem
        id_, hint = MODEL_SETTING_PROBLEMS[kind]
        return [checks.Error(message, hint=hint, id=id_)]
    from .hosts import owner_field, progress_models

    problems = (_owner_problem(host, owner_field(host)) for host in progress_models())
    return [problem for problem in problems if problem is not None]


def _model_setting_problem() -> tuple[str, str] | None:
    """What is wrong with ``PROGRESS_TRACKING_MODEL`` and which kind of problem it is."""
    from .models import get_progress_model

    label = getattr(settings, "PROGRESS_TRACKING_MODEL", None)
    if label is not None and not isinstance(label, str):
        message = f"PROGRESS_TRACKING_MODEL must be a string 'app_label.ModelName', not {label!r}."
        return message, "not a label"
    try:
        get_progress_model()
    except ImproperlyConfigured as exc:
        # get_progress_model() raises from the app registry's own error.
        if isinstance(exc.__cause__, ValueError):
            return str(exc), "not a label"
        if isinstance(exc.__cause__, LookupError):
            return str(exc), "not installed"
        return str(exc), "not a progress model"
    return None


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
    return checks.Error(
        f"{name} is {owner!r}, which is not a foreign key to the user model on "
        f"{model._meta.label}.",
        hint=f"Set {name} to the ForeignKey to AUTH_USER_MODEL that owns a row, or to None so "
        "that only staff can read that model's sessions through the API.",
        id="progress_tracking.E002",
    )


def _points_to_user(field: models.ForeignKey[Any, Any]) -> bool:
    target = field.remote_field.model
    label = target if isinstance(target, str) else target._meta.label
    return str(label).lower() == settings.AUTH_USER_MODEL.lower()
