"""PDF files, page by page, with pypdf."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from .base import Budget, ProcessingFailed, ProgressReporter, format_size

if TYPE_CHECKING:
    from pypdf import PdfReader

T = TypeVar("T")

_UNREADABLE = "The PDF file is damaged or is not a PDF, so its text cannot be read."


def extract_pdf_text(
    path: str | os.PathLike[str], progress: ProgressReporter, budget: Budget
) -> str:
    with open(path, "rb") as stream:
        reader = _open(stream)
        page_count = _guarded(lambda: len(reader.pages))
        _check_budget(reader, page_count, budget)
        texts = []
        for number in range(1, page_count + 1):
            page_text = _guarded(_page_text, reader, number - 1)
            # PostgreSQL text columns reject NUL characters, which some PDFs' fonts map to.
            texts.append(page_text.replace("\x00", "").strip())
            progress.step(
                number / page_count, f"Reading {progress.name}: page {number} of {page_count}"
            )
    text = "\n\n".join(filter(None, texts))
    pages = "1 page" if page_count == 1 else f"{page_count:,} pages"
    if text:
        progress.finish(f"Extracted {len(text):,} characters from {progress.name} ({pages})")
    else:
        progress.finish(f"No text found in {progress.name}, {pages} (scanned images are not read)")
    return text


def _check_budget(reader: PdfReader, page_count: int, budget: Budget) -> None:
    if budget.max_pages is not None and page_count > budget.max_pages:
        raise ProcessingFailed(
            f"The PDF has {page_count:,} pages; at most {budget.max_pages:,} are read. "
            "Split it into smaller files and upload them again."
        )
    if budget.max_pdf_content_bytes is not None:
        content = _guarded(_content_bytes, reader, budget.max_pdf_content_bytes)
        if content > budget.max_pdf_content_bytes:
            raise ProcessingFailed(
                "The PDF's pages hold more drawing instructions than this server reads "
                f"(over {format_size(budget.max_pdf_content_bytes)}), so its text is not "
                "extracted."
            )


def _content_bytes(reader: PdfReader, limit: int) -> int:
    """The content-stream bytes that reading every page parses, counting shared streams once
    per page that uses them (pypdf parses them again for each); stops counting past ``limit``.
    """
    sizes: dict[object, int] = {}
    total = 0
    for page in reader.pages:
        contents = page.get("/Contents")
        refs = contents if isinstance(contents, list) else [contents]
        for ref in refs:
            if ref is None:
                continue
            key = getattr(ref, "idnum", None) or id(ref)
            if key not in sizes:
                stream = ref.get_object()
                sizes[key] = len(stream.get_data()) if hasattr(stream, "get_data") else 0
            total += sizes[key]
        if total > limit:
            break
    return total


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
