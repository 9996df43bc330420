"""Text that every database can store and every response can encode.

PostgreSQL refuses NUL and lone surrogates in ``jsonb`` (a ``DataError``); SQLite stores them,
after which encoding a response as UTF-8 fails. The services therefore refuse such names and
replace such characters in messages and errors before anything is written, the same way on
every database, and reads replace them in rows written before this rule existed.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

REPLACEMENT = "\ufffd"
# NUL and the UTF-16 surrogate range: neither is valid in UTF-8 text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Short, bounded descriptions of any value for error messages.
_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = 60
_repr.maxother = 60


def is_storable(text: str) -> bool:
    if text.isascii():  # the common case, without a regular expression
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    return text if is_storable(text) else _UNSTORABLE.sub(REPLACEMENT, text)


def scrubbed(value: Any) -> Any:
    """A copy of a JSON value whose strings (keys too) are all storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def describe(value: object) -> str:
    """``repr(value)`` for an error message, short and safe for any value.

    A 100,000-deep dict, an integer too long to print or a ``__repr__`` that raises must not
    turn a validation error into a RecursionError or ValueError.
    """
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def readable(value: object) -> str:
    """``str(value)`` for an error text, whatever ``__str__`` does (raises, recurses)."""
    try:
        text = str(value)
    except Exception:
        return f"{type(value).__name__} (its text could not be read)"
    return text if isinstance(text, str) else type(value).__name__
