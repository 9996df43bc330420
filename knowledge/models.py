"""Files uploaded into a knowledge base (``progress_tracking.Knowledge``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from progress_tracking.models import FileStatus, Knowledge


class Document(models.Model):
    knowledge = models.ForeignKey(
        Knowledge,
        on_delete=models.CASCADE,
        related_name="documents",
        verbose_name=_("knowledge base"),
    )
    file = models.FileField(_("file"), upload_to="knowledge/%Y/%m/")
    name = models.CharField(_("name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    status = models.CharField(
        _("status"), max_length=16, choices=FileStatus.choices, default=FileStatus.PENDING
    )
    text = models.TextField(_("extracted text"), blank=True)
    error = models.TextField(_("error"), blank=True)
    session_id = models.UUIDField(_("progress session"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.name
