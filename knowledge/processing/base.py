"""Errors and progress reporting shared by every extractor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ProgressCallback = Callable[[float, str], None]

# Step reports stay below 1.0 so that the single call saying "done" is the only one at 1.0.
_LAST_STEP_FRACTION = 0.999


class ProcessingFailed(Exception):
    """A file could not be turned into text.

    ``str(exc)`` is written for the person who uploaded the file: it says what is wrong
    with the file (and, where it helps, what to do), never how the parser failed inside.
    """


class UnsupportedFile(ProcessingFailed):
    """The file's type is not one that can be turned into text."""


@dataclass(frozen=True)
class Budget:
    """How much work one file may ask for; ``None`` means no limit.

    Checked before the expensive part starts, so a file over budget fails at once.
    """

    max_pages: int | None = None  # PDF pages
    max_pdf_content_bytes: int | None = None  # content streams parsed, summed over pages
    max_audio_seconds: float | None = None  # WAV duration


class ProgressReporter:
    """Forwards progress to a callback: fractions strictly increase and the last is 1.0.

    ``name`` is the file's name, for messages that say which file the work is on.
    """

    def __init__(self, callback: ProgressCallback, name: str = "the file") -> None:
        self._callback = callback
        self.name = name
        self._last = -1.0
        # What the callback raised, so callers can tell it apart from errors of the file.
        self.callback_error: BaseException | None = None

    def step(self, fraction: float, message: str) -> None:
        """Report one finished step; a step that adds no progress is not reported."""
        fraction = min(max(fraction, 0.0), _LAST_STEP_FRACTION)
        if fraction > self._last:
            self._last = fraction
            self._emit(fraction, message)

    def finish(self, message: str) -> None:
        self._last = 1.0
        self._emit(1.0, message)

    def _emit(self, fraction: float, message: str) -> None:
        try:
            self._callback(fraction, message)
        except BaseException as exc:
            self.callback_error = exc
            raise


def format_duration(seconds: float) -> str:
    """``42`` -> ``"0:42"``, ``3725`` -> ``"1:02:05"`` (whole seconds, rounded down)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_size(size: int) -> str:
    """A byte count for people: ``"512 bytes"``, ``"64 KiB"``, ``"2.5 MiB"``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
