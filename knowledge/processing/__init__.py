"""Turning uploaded files into text, with progress reported step by step.

    from knowledge.processing import extract_text, check_supported, ProcessingFailed

``extract_text`` reads plain text and Markdown in chunks, PDFs page by page and WAV audio a
few seconds at a time, calling ``on_progress(fraction, message)`` after every step; the
fractions strictly increase and the last call is ``on_progress(1.0, ...)``. A file that
cannot be read raises ``ProcessingFailed`` (``UnsupportedFile`` for a type that is not
supported), whose message is meant for the person who uploaded the file.

Parsers and the speech model are imported only when a file of their type is processed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .base import Budget, ProcessingFailed, ProgressCallback, ProgressReporter, UnsupportedFile

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Budget",
    "ProcessingFailed",
    "ProgressCallback",
    "UnsupportedFile",
    "check_supported",
    "extract_text",
]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".pdf", ".wav"})


def check_supported(filename: str | os.PathLike[str]) -> None:
    """Raise ``UnsupportedFile`` unless the file's extension is one that can be processed."""
    _extension_of(filename)


def extract_text(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    on_progress: ProgressCallback = lambda fraction, message: None,
    budget: Budget | None = None,
) -> str:
    """Return the text of the file at ``path``; its type comes from ``filename`` if given.

    A file that needs more than ``budget`` allows fails with ``ProcessingFailed`` before
    the expensive work starts. Exceptions raised by ``on_progress`` propagate unchanged, so
    a caller can use it to cancel the work.
    """
    name = os.path.basename(os.fspath(filename if filename is not None else path))
    extension = _extension_of(name)
    extractor = _extractor_for(extension)
    progress = ProgressReporter(on_progress, name)
    try:
        return extractor(path, progress, budget or Budget())
    except OSError as exc:
        if exc is progress.callback_error:
            raise
        raise ProcessingFailed(
            f"The file could not be read ({exc.strerror or 'input/output error'})."
        ) from exc


def _extension_of(filename: str | os.PathLike[str]) -> str:
    name = os.path.basename(os.fspath(filename))
    extension = os.path.splitext(name)[1].lower()
    if extension in SUPPORTED_EXTENSIONS:
        return extension
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    if not extension:
        raise UnsupportedFile(
            f'"{name}" has no file extension, so its type is unknown. Supported types: {supported}.'
        )
    raise UnsupportedFile(
        f'"{name}": {extension} files are not supported. Supported types: {supported}.'
    )


Extractor = Callable[[str | os.PathLike[str], ProgressReporter, Budget], str]


def _extractor_for(extension: str) -> Extractor:
    if extension == ".pdf":
        from .pdf import extract_pdf_text

        return extract_pdf_text
    if extension == ".wav":
        from .speech import transcribe_wav

        return transcribe_wav
    if extension in {".md", ".markdown"}:
        from .text import extract_markdown_text

        return extract_markdown_text
    from .text import extract_plain_text

    return extract_plain_text
