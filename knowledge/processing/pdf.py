"""PDF files, page by page, with pypdf."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from .base import ProcessingFailed, ProgressReporter

if TYPE_CHECKING:
    from pypdf import PdfReader

T = TypeVar("T")

_UNREADABLE = "The PDF file is damaged or is not a PDF, so its text cannot be read."


def extract_pdf_text(path: str | os.PathLike[str], progress: ProgressReporter) -> str:
    with open(path, "rb") as stream:
        reader = _open(stream)
        page_count = _guarded(lambda: len(reader.pages))
        texts = []
        for number in range(1, page_count + 1):
            page_text = _guarded(_page_text, reader, number - 1)
            # PostgreSQL text columns reject NUL characters, which some PDFs' fonts map to.
            texts.append(page_text.replace("\x00", "").strip())
            progress.step(number / page_count, f"Page {number} of {page_count}")
    text = "\n\n".join(filter(None, texts))
    pages = "1 page" if page_count == 1 else f"{page_count} pages"
    if text:
        progress.finish(f"Extracted {len(text):,} characters from {pages}")
    else:
        progress.finish(f"No text found in {pages} (scanned images are not read)")
    return text


def _open(stream: BinaryIO) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    reader = _guarded(PdfReader, stream)
    if not _guarded(lambda: reader.is_encrypted):
        return reader
    # Many PDFs are encrypted only to restrict printing or copying, with an empty password
    # for reading; those are read as usual.
    try:
        decrypted = reader.decrypt("")
    except DependencyError:
        raise ProcessingFailed(
            "The PDF file is encrypted with a method this server cannot decrypt. "
            "Remove the protection and upload it again."
        ) from None
    except Exception as exc:
        raise ProcessingFailed(_UNREADABLE) from exc
    if not decrypted:
        raise ProcessingFailed(
            "The PDF file is protected by a password. Remove the password and upload it again."
        )
    return reader


def _page_text(reader: PdfReader, index: int) -> str:
    return reader.pages[index].extract_text()


def _guarded(read: Callable[..., T], *args: object) -> T:
    """Run one pypdf call; whatever a malformed file makes it raise becomes ProcessingFailed.

    pypdf raises many exception types on damaged input (its own, but also KeyError,
    ValueError, RecursionError and others), none of them meaningful to the uploader.
    """
    try:
        return read(*args)
    except ProcessingFailed:
        raise
    except Exception as exc:
        raise ProcessingFailed(_UNREADABLE) from exc
