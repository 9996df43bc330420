"""What a value reported by a worker must be: numbers, counts, texts and file names.

Each check returns the value it accepts or raises ``InvalidProgressData`` saying why not;
``message_text`` and ``error_text`` make text storable. The state rules (``state``) call these
before anything is read or written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .conf import app_settings
from .exceptions import InvalidProgressData
from .text import describe, is_storable, readable, storable

MESSAGE_MAX_LENGTH = 1000
ERROR_MAX_LENGTH = 1000
FILENAME_MAX_LENGTH = 255


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_percentage(name: str, value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidProgressData(f"{name} must be a number from 0 to 100, not {describe(value)}.")
    # No math.isnan() on an int: it converts to float, which overflows for 10**400.
    if (isinstance(value, float) and math.isnan(value)) or not 0 <= value <= 100:
        raise InvalidProgressData(f"{name} must be between 0 and 100, not {describe(value)}.")
    return value


def check_count(name: str, value: object, *, limit: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidProgressData(f"{name} must be a non-negative integer, not {describe(value)}.")
    if limit is not None and value > limit:
        raise InvalidProgressData(f"{name} is {describe(value)}; the limit is {limit:,}.")
    return value


def check_total_files(value: object) -> int:
    return check_count("total_files", value, limit=app_settings.MAX_TOTAL_FILES)


def check_file_count(count: int) -> None:
    limit = app_settings.MAX_FILES_PER_SESSION
    if count > limit:
        raise InvalidProgressData(
            f"A session can track at most {limit:,} files (MAX_FILES_PER_SESSION); "
            f"this would make it {count:,}."
        )


def check_text(name: str, value: object, *, limit: int = MESSAGE_MAX_LENGTH) -> str:
    """A message's type and length; characters that cannot be stored are replaced later."""
    if not isinstance(value, str):
        raise InvalidProgressData(f"{name} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidProgressData(f"{name} is {len(value)} characters long; the limit is {limit}.")
    return value


def check_file_name(value: object) -> str:
    """A file name is an entry's identity: one that cannot be stored as given is refused."""
    name = check_text("filename", value, limit=FILENAME_MAX_LENGTH)
    if not name.strip():
        raise InvalidProgressData("filename must not be empty.")
    if not is_storable(name):
        raise InvalidProgressData(
            f"filename {describe(name)} contains NUL or a lone surrogate, which no database "
            "can store as text; decode file names with errors='replace' first."
        )
    return name


def check_file_names(names: object) -> list[str]:
    if isinstance(names, str | bytes):
        raise InvalidProgressData("files must be a list of file names, not a single string.")
    if not isinstance(names, Iterable):
        raise InvalidProgressData(f"files must be a list of file names, not {describe(names)}.")
    unique: dict[str, None] = {}
    for name in names:
        unique[check_file_name(name)] = None
        check_file_count(len(unique))
    return list(unique)


def message_text(message: str) -> str:
    return storable(message)


def error_text(error: object) -> str:
    """The stored text of a failure: never refused, whatever ``error`` is."""
    text = readable(error).strip() if error is not None else ""
    return storable(truncate(text or "Unknown error", ERROR_MAX_LENGTH))
