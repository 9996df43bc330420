"""Upload rules: which files are accepted, how many and how big, with answers that say why."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from django.core.files.uploadedfile import UploadedFile
from rest_framework import status
from rest_framework.exceptions import APIException

from . import conf
from .processing import SUPPORTED_EXTENSIONS, UnsupportedFile, check_supported
from .processing.base import format_size

# Document.name and a session's file names hold at most this many characters.
NAME_MAX_LENGTH = 255


class UploadRejected(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "upload_rejected"

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        if status_code is not None:
            self.status_code = status_code


def limits() -> tuple[int, int]:
    return conf.max_upload_bytes(), conf.max_files()


def too_many(sent: object, max_files: int) -> UploadRejected:
    return UploadRejected(f"Too many files: {sent} sent, at most {max_files} at once.")


def too_big(name: str, size: int | None, max_bytes: int) -> UploadRejected:
    how_big = f"is {format_size(size)}" if size is not None else "is over the limit"
    return UploadRejected(
        f'"{name}" {how_big}; the limit is {format_size(max_bytes)} per file.',
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def validate_uploads(files: Sequence[UploadedFile]) -> None:
    """Reject the whole upload (nothing is stored) if any file breaks a rule."""
    max_bytes, max_files = limits()
    if not files:
        raise UploadRejected("No files uploaded: send one or more files in the 'files' field.")
    if len(files) > max_files:
        raise too_many(len(files), max_files)
    for upload in files:
        name = os.path.basename(upload.name or "")
        if not name:
            raise UploadRejected("A file has no name.")
        try:
            check_supported(name)
        except UnsupportedFile as exc:
            raise UploadRejected(str(exc), status.HTTP_415_UNSUPPORTED_MEDIA_TYPE) from exc
        if upload.size is not None and upload.size > max_bytes:
            raise too_big(name, upload.size, max_bytes)


def unique_names(names: Iterable[str], taken: Iterable[str]) -> list[str]:
    """File names are keys in a session: 'a.pdf' uploaded twice becomes 'a (2).pdf'.

    Names stay within ``NAME_MAX_LENGTH``: the stem is shortened to make room for the
    suffix.
    """
    used = set(taken)
    result = []
    for name in names:
        name = _shortened(name, "")
        stem, ext = os.path.splitext(name)
        candidate, number = name, 2
        while candidate in used:
            candidate, number = _shortened(stem, f" ({number}){ext}"), number + 1
        used.add(candidate)
        result.append(candidate)
    return result


def _shortened(stem: str, tail: str) -> str:
    room = NAME_MAX_LENGTH - len(tail)
    if room <= 0:  # an absurdly long extension: keep the end of the name
        return (stem + tail)[-NAME_MAX_LENGTH:]
    return stem[:room] + tail


ACCEPT_ATTRIBUTE = ",".join(sorted(SUPPORTED_EXTENSIONS))
