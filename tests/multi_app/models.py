"""Four progress hosts of one site, each with its own way of naming (or not) an owner."""

from django.conf import settings
from django.db import models

from progress_tracking.models import AbstractProgressModel


class Export(AbstractProgressModel):
    """Owner through the default ``OWNER_FIELD`` ("user")."""

    title = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )


class Import(AbstractProgressModel):
    """Owner through a field of its own name."""

    progress_owner_field = "created_by"

    title = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )


class Report(AbstractProgressModel):
    """No owner: its sessions are for staff only."""

    progress_owner_field = None

    title = models.CharField(max_length=100)


class Upload(AbstractProgressModel):
    progress_owner_field = "uploader"

    title = models.CharField(max_length=100)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )


class ArchivedUpload(Upload):
    """A proxy stores nothing of its own: it is not a host of its own."""

    class Meta:
        proxy = True


class LiveNoteManager(models.Manager["Note"]):
    """Hides soft-deleted notes, as many hosts' default managers do."""

    def get_queryset(self) -> models.QuerySet["Note"]:
        return super().get_queryset().filter(deleted=False)


class Note(AbstractProgressModel):
    """A host whose default manager hides rows: progress must see them all the same."""

    title = models.CharField(max_length=100)
    deleted = models.BooleanField(default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = LiveNoteManager()
    everything = models.Manager()
