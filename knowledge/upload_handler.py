"""Refusing an upload while it streams: per-file size, file count and type.

Django's stock handlers write the whole request body to disk before a view can look at
it, so a 1 GiB file filled a 1 GiB temporary file before the size check said 413. This
handler checks each file as its parts arrive and stops at the first rule broken: the
temporary file never grows past the per-file limit, and nothing of a refused upload is
left on disk.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from rest_framework import status

from . import conf
from .processing import UnsupportedFile, check_supported
from .processing.base import format_size
from .uploads import UploadRejected, too_big, too_many

# Multipart framing per part (boundary, headers) plus the form's other fields.
_OVERHEAD_PER_FILE = 64 * 1024
_OVERHEAD = 1024 * 1024


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, refusing the upload as soon as a rule breaks."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.max_bytes = conf.max_upload_bytes()
        self.max_files = conf.max_files()
        self.count = 0
        self.received = 0
        self.completed: list[UploadedFile] = []

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # A body announced bigger than the largest acceptable upload is refused unread.
        largest = self.max_files * (self.max_bytes + _OVERHEAD_PER_FILE) + _OVERHEAD
        if content_length > largest:
            raise UploadRejected(
                f"The upload is {format_size(content_length)}; at most {self.max_files} "
                f"files of {format_size(self.max_bytes)} each are accepted at once.",
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        if self.count > self.max_files:
            self._refuse(too_many(f"more than {self.max_files}", self.max_files))
        try:
            check_supported(os.path.basename(file_name))
        except UnsupportedFile as exc:
            self._refuse(UploadRejected(str(exc), status.HTTP_415_UNSUPPORTED_MEDIA_TYPE))
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self._refuse(too_big(self.file_name or "", None, self.max_bytes))
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            self.completed.append(uploaded)
        return uploaded

    def _refuse(self, error: UploadRejected) -> None:
        """Delete what this upload already wrote, then refuse it."""
        current = getattr(self, "file", None)
        for uploaded in [*self.completed, *([current] if current is not None else [])]:
            path = uploaded.temporary_file_path()
            uploaded.close()
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        self.completed.clear()
        raise error
