"""Signed read capabilities: poll one session without a database lookup of the caller.

A capability is ``TimestampSigner(salt=SALT).sign("<session id>:<user pk>")``: an HMAC of the
host's ``SECRET_KEY`` over the session it opens and the user it was issued to, with the time
it was issued. It is sent in the ``X-Progress-Capability`` request header, never in a URL.

It grants nothing by itself: the status endpoint answers from it only when the session in the
URL is the one signed, it is younger than ``CAPABILITY_MAX_AGE`` and the session's stored
owner is still the user signed. Everything else falls back to the normal authentication.
It is issued only where the app already knows the user (the cookie/token status response,
the template tag, ``read_capability_for`` in an upload view), and never renewed by itself:
a leaked one dies with its age limit or its session, whichever comes first.

Checking a signature is an HMAC of the host's ``SECRET_KEY``; a polling page sends the same
capability every second, so each process remembers the last ``MEMO_SIZE`` signatures it
checked (``_signed``). The signature of a given string never changes (the keys do not change
at run time, and the memo is emptied when a test overrides them), but its age does: the age
limit is checked on every use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import app_settings
from .selectors import parse_session_id

__all__ = [
    "HEADER",
    "ReadClaim",
    "issued_headers",
    "read_capability_for",
    "sign_read_capability",
    "verify",
]

# Request and response header (the response carries a fresh one on cookie/token polls).
HEADER = "X-Progress-Capability"
META_KEY = "HTTP_X_PROGRESS_CAPABILITY"
SALT = "progress_tracking.read-capability"
# Signatures longer than this are not even checked (the header is attacker-controlled).
MAX_LENGTH = 512
# Checked signatures each process remembers (a few hundred bytes each).
MEMO_SIZE = 2048
# Settings a remembered check depends on.
KEY_SETTINGS = frozenset({"SECRET_KEY", "SECRET_KEY_FALLBACKS"})


@dataclass(frozen=True)
class ReadClaim:
    """What a valid capability says: this user may read this session."""

    session_id: str
    user_pk: str


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def sign_read_capability(session_id: object, user_pk: object) -> str:
    """A capability for ``user_pk`` to read ``session_id``; raises ValueError for a bad id."""
    uuid = parse_session_id(session_id)
    if uuid is None:
        raise ValueError(f"Not a session id: {session_id!r}")
    if user_pk is None:
        raise ValueError("A read capability needs a user.")
    return _signer().sign(f"{uuid}:{user_pk}")


def read_capability_for(user: Any, session_id: object) -> str | None:
    """The capability to hand to a page or an upload response, or None for anonymous users.

    Only the owner can use it: a capability issued to anyone else is simply not honoured.
    """
    if not getattr(user, "is_authenticated", False) or parse_session_id(session_id) is None:
        return None
    return sign_read_capability(session_id, user.pk)


def issued_headers(user: Any, record: Any) -> dict[str, str]:
    """The response header that hands the owner a fresh capability for the session polled."""
    owner_id = getattr(record, "owner_id", None)
    if owner_id is None or getattr(user, "pk", None) != owner_id:
        return {}
    return {HEADER: sign_read_capability(record.progress.get("session_id"), owner_id)}


def verify(token: str | None, max_age: float | None = None) -> ReadClaim | None:
    """The claim of a valid, unexpired capability; None for anything else.

    ``max_age`` defaults to ``CAPABILITY_MAX_AGE``; the age is compared on every call, as
    ``TimestampSigner.unsign`` compares it (older than ``max_age`` seconds: expired).
    """
    if not token or len(token) > MAX_LENGTH:
        return None
    signed = _signed(token)
    if signed is None:
        return None
    claim, issued_at = signed
    limit = app_settings.CAPABILITY_MAX_AGE if max_age is None else max_age
    if time.time() - issued_at > limit:
        return None
    return claim


@lru_cache(maxsize=MEMO_SIZE)
def _signed(token: str) -> tuple[ReadClaim, int] | None:
    """The claim a token's signature vouches for and when it was signed, or None if forged.

    ``TimestampSigner.unsign`` without the age check, which ``verify`` makes on every use.
    """
    try:
        value = _signer().unsign(token)  # no max_age: "<session id>:<user pk>"
        # A valid token is "<value>:<timestamp>:<signature>" (neither of the last two has ":").
        issued_at = signing.b62_decode(token.rsplit(":", 2)[-2])
    except (signing.BadSignature, ValueError):
        return None
    session_id, _, user_pk = value.partition(":")
    if not user_pk:
        return None
    return ReadClaim(session_id=session_id, user_pk=user_pk), issued_at


@receiver(setting_changed)
def _forget_checked_signatures(*, setting: str, **kwargs: Any) -> None:
    if setting in KEY_SETTINGS:
        _signed.cache_clear()
