"""Where progress is stored: ``meta["processing_progress"]`` on a knowledge row.

``AbstractProgressModel`` is what a host's own model inherits to adopt progress tracking (like
``AbstractBaseUser``); ``Knowledge`` is the default concrete model, swappable through the
``PROGRESS_TRACKING_MODEL`` setting.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .host_save import PROGRESS_KEY as PROGRESS_KEY
from .host_save import protected_save, save_arguments


class ProgressStatus(models.TextChoices):
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    ERROR = "error", _("Error")
    CANCELLED = "cancelled", _("Cancelled")


class FileStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    ERROR = "error", _("Error")
    # Set by a cancel on the files not finished yet; never reported by a worker.
    CANCELLED = "cancelled", _("Cancelled")


FINAL_STATUSES = frozenset(
    {ProgressStatus.COMPLETED.value, ProgressStatus.ERROR.value, ProgressStatus.CANCELLED.value}
)
FINAL_FILE_STATUSES = frozenset(
    {FileStatus.COMPLETED.value, FileStatus.ERROR.value, FileStatus.CANCELLED.value}
)


class AbstractProgressModel(models.Model):
    """The JSON ``meta`` field plus the columns that make progress lookups indexed.

    The three ``progress_*`` columns are copies of values inside ``meta`` and are written in
    the same statement; never set them yourself. JSON-key lookups cannot use an index on
    SQLite, so these columns are what finds a session among millions of rows.
    """

    meta = models.JSONField(_("meta"), default=dict, blank=True)
    progress_session_id = models.UUIDField(
        _("progress session id"), null=True, blank=True, unique=True, editable=False
    )
    progress_status = models.CharField(
        _("progress status"),
        max_length=16,
        choices=ProgressStatus.choices,
        blank=True,
        default="",
        editable=False,
    )
    progress_updated_at = models.DateTimeField(
        _("progress updated at"), null=True, blank=True, db_index=True, editable=False
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the host's fields; progress stays as the services last wrote it.

        On an UPDATE the ``progress_*`` columns are left out and ``meta`` keeps the stored
        progress key whatever this instance holds (see ``host_save``); other ``meta`` keys
        are written as usual.
        """
        protected_save(self, super().save, save_arguments(args, kwargs))


class Knowledge(AbstractProgressModel):
    """A knowledge base: the default row that progress is attached to."""

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="knowledge_bases",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        swappable = "PROGRESS_TRACKING_MODEL"
        verbose_name = _("knowledge base")
        verbose_name_plural = _("knowledge bases")

    def __str__(self) -> str:
        return self.name


class CleanupLease(models.Model):
    """The automatic sweep's schedule and lease: one row per sweep, claimed by one UPDATE.

    A process may sweep only after an UPDATE that matched ``due_at <= now`` and a free (or
    expired) lease changed this row, so at most one process sweeps at a time across every
    process and machine that shares the database. The ``last_*`` columns show in the admin
    what the latest sweep did.
    """

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    due_at = models.DateTimeField(_("next sweep due"))
    held_until = models.DateTimeField(_("lease held until"), null=True, blank=True)
    holder = models.CharField(_("held by"), max_length=100, blank=True)
    last_started_at = models.DateTimeField(_("last sweep started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last sweep finished"), null=True, blank=True)
    last_removed = models.PositiveIntegerField(_("sessions removed by the last sweep"), default=0)
    last_error = models.TextField(_("error of the last sweep"), blank=True)

    class Meta:
        verbose_name = _("automatic cleanup")
        verbose_name_plural = _("automatic cleanup")

    def __str__(self) -> str:
        return self.name


class ProgressHistory(models.Model):
    """One finished session (completed, failed, cancelled...), kept for ``HISTORY_RETENTION``.

    Written once when a session's final write commits (see ``history``); the live progress in
    ``meta`` keeps its own, much shorter, cleanup rules. ``status`` has no ``choices`` on
    purpose: a final status added later needs no migration of this table.
    """

    session_id = models.UUIDField(_("session id"), unique=True)
    model_label = models.CharField(_("model"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=255)
    owner_id = models.CharField(_("owner id"), max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=16)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), db_index=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    total_files = models.PositiveIntegerField(_("files"), default=0)
    failed_files = models.PositiveIntegerField(_("failed files"), default=0)
    message = models.TextField(_("final message"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("finished session")
        verbose_name_plural = _("progress history")
        ordering = ["-finished_at"]
        indexes = [
            models.Index(fields=["model_label", "finished_at"], name="pt_history_model_idx"),
            models.Index(fields=["owner_id", "finished_at"], name="pt_history_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.model_label} {self.object_id} ({self.status})"


def get_progress_model() -> type[AbstractProgressModel]:
    """The model that stores progress (``PROGRESS_TRACKING_MODEL``)."""
    label = app_settings.MODEL
    try:
        model = django_apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"PROGRESS_TRACKING_MODEL must be of the form 'app_label.ModelName', not {label!r}."
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"PROGRESS_TRACKING_MODEL refers to model {label!r} that has not been installed."
        ) from exc
    if not issubclass(model, AbstractProgressModel):
        raise ImproperlyConfigured(
            f"PROGRESS_TRACKING_MODEL {label!r} must inherit from "
            "progress_tracking.models.AbstractProgressModel."
        )
    return model
