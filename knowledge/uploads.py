"""Upload rules: which files are accepted, how many and how big, with answers that say why."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from rest_framework import status
from rest_framework.exceptions import APIException

from .processing import SUPPORTED_EXTENSIONS, UnsupportedFile, check_supported

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_FILES = 20


class UploadRejected(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "upload_rejected"

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        if status_code is not None:
            self.status_code = status_code


def limits() -> tuple[int, int]:
    return (
        getattr(settings, "KNOWLEDGE_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES),
        getattr(settings, "KNOWLEDGE_MAX_FILES", MAX_FILES),
    )


def validate_uploads(files: Sequence[UploadedFile]) -> None:
    """Reject the whole upload (nothing is stored) if any file breaks a rule."""
    max_bytes, max_files = limits()
    if not files:
        raise UploadRejected("No files uploaded: send one or more files in the 'files' field.")
    if len(files) > max_files:
        raise UploadRejected(f"Too many files: {len(files)} sent, at most {max_files} at once.")
    for upload in files:
        name = os.path.basename(upload.name or "")
        if not name:
            raise UploadRejected("A file has no name.")
        try:
            check_supported(name)
        except UnsupportedFile as exc:
            raise UploadRejected(str(exc), status.HTTP_415_UNSUPPORTED_MEDIA_TYPE) from exc
        if upload.size is not None and upload.size > max_bytes:
            raise UploadRejected(
                f'"{name}" is {upload.size / 1_048_576:.1f} MiB; the limit is '
                f"{max_bytes / 1_048_576:.0f} MiB per file.",
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )


def unique_names(names: Iterable[str], taken: Iterable[str]) -> list[str]:
    """File names are keys in a session: 'a.pdf' uploaded twice becomes 'a (2).pdf'."""
    used = set(taken)
    result = []
    for name in names:
        stem, ext = os.path.splitext(name)
        candidate, number = name, 2
        while candidate in used:
            candidate, number = f"{stem} ({number}){ext}", number + 1
        used.add(candidate)
        result.append(candidate)
    return result


ACCEPT_ATTRIBUTE = ",".join(sorted(SUPPORTED_EXTENSIONS))
