from django.conf import settings
from django.db import models

from progress_tracking.models import AbstractProgressModel


class Document(AbstractProgressModel):
    """A host's own model adopting progress tracking by inheritance."""

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="documents",
    )

    def __str__(self) -> str:
        return self.title
