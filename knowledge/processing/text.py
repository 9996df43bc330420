"""Plain text and Markdown files, read in chunks and decoded as they arrive."""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator

from .base import Budget, ProcessingFailed, ProgressReporter, format_size
from .markdown import MarkdownStripper

_MIN_CHUNK_BYTES = 64 * 1024
_MAX_CHUNK_BYTES = 1024 * 1024
# Big files are read in bigger chunks so a file reports about this many steps, not thousands.
_TARGET_STEPS = 100


def extract_plain_text(
    path: str | os.PathLike[str], progress: ProgressReporter, budget: Budget
) -> str:
    text = "".join(_read_text(path, progress))
    progress.finish(f"Extracted {len(text):,} characters from {progress.name}")
    return text


def extract_markdown_text(
    path: str | os.PathLike[str], progress: ProgressReporter, budget: Budget
) -> str:
    stripper = MarkdownStripper()
    pieces = [stripper.feed(piece) for piece in _read_text(path, progress)]
    pieces.append(stripper.close())
    text = "".join(pieces)
    progress.finish(f"Extracted {len(text):,} characters from {progress.name}")
    return text


def _read_text(path: str | os.PathLike[str], progress: ProgressReporter) -> Iterator[str]:
    """Yield the decoded text piece by piece; report progress once each piece is consumed."""
    total = os.path.getsize(path)
    chunk_size = min(max(total // _TARGET_STEPS + 1, _MIN_CHUNK_BYTES), _MAX_CHUNK_BYTES)
    decoder: io.IncrementalNewlineDecoder | None = None
    done = 0
    with open(path, "rb") as stream:
        chunk = stream.read(chunk_size)
        while chunk:
            following = stream.read(chunk_size)
            if decoder is None:
                decoder = _decoder_for(chunk)
            # The last chunk is decoded as final, so a file that fails at its very end
            # fails before its progress is reported, not at 99.9 %.
            yield _decode(decoder, chunk, done, final=not following)
            done += len(chunk)
            if following:
                # The file may have grown since it was measured; never report more than it
                # holds.
                size = max(total, done + len(following))
                progress.step(
                    done / size,
                    f"Reading {progress.name}: {format_size(done)} of {format_size(size)}",
                )
            chunk = following


def _decoder_for(first_chunk: bytes) -> io.IncrementalNewlineDecoder:
    # UTF-8 (with or without a byte order mark) is the rule; UTF-16 is accepted only when a
    # byte order mark says so, as Windows editors write it ("Unicode" in Notepad).
    if first_chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return io.IncrementalNewlineDecoder(codecs.getincrementaldecoder(encoding)(), translate=True)


def _decode(
    decoder: io.IncrementalNewlineDecoder, chunk: bytes, offset: int, *, final: bool = False
) -> str:
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        raise ProcessingFailed(
            "The file cannot be read as text: it contains bytes that are not valid UTF-8 "
            f"(near byte {offset + exc.start:,}). If it is a text file, save it with UTF-8 "
            "encoding and upload it again."
        ) from None
    if "\x00" in text:
        raise ProcessingFailed(
            "The file looks like a binary file, not text (it contains NUL bytes)."
        )
    return text
