"""Read capabilities: each process remembers the signatures it checked, never their age."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from freezegun import freeze_time

from progress_tracking import capability


@pytest.fixture
def hmacs(monkeypatch):
    """How many signatures are computed (an HMAC of SECRET_KEY each)."""
    counted = []
    real = signing.Signer.signature

    def signature(self, value, key=None):
        counted.append(value)
        return real(self, value, key)

    monkeypatch.setattr(signing.Signer, "signature", signature)
    return counted


def test_a_capability_is_checked_once_then_remembered(hmacs):
    token = capability.sign_read_capability(uuid.uuid4(), 7)
    hmacs.clear()

    first = capability.verify(token)
    second = capability.verify(token)

    assert first == second == capability.ReadClaim(token.split(":")[0], "7")
    assert len(hmacs) == 1


def test_a_remembered_capability_still_expires(settings, hmacs):
    settings.PROGRESS_TRACKING = {"CAPABILITY_MAX_AGE": 60}
    issued = timezone.now()
    with freeze_time(issued):
        token = capability.sign_read_capability(uuid.uuid4(), 7)
        assert capability.verify(token) is not None
    with freeze_time(issued + timedelta(seconds=61)):
        assert capability.verify(token) is None
        assert capability.verify(token, max_age=120) is not None
    with freeze_time(issued + timedelta(seconds=59)):
        assert capability.verify(token) is not None

    assert len(hmacs) == 2  # signed once, checked once


def test_the_age_limit_is_timestamp_signers(settings):
    """The same verdict as TimestampSigner.unsign(max_age=...) at every age."""
    settings.PROGRESS_TRACKING = {"CAPABILITY_MAX_AGE": 60}
    issued = timezone.now().replace(microsecond=0)
    with freeze_time(issued):
        token = capability.sign_read_capability(uuid.uuid4(), 7)
    for age in (0, 59.5, 60, 60.5, 61):
        with freeze_time(issued + timedelta(seconds=age)):
            try:
                signing.TimestampSigner(salt=capability.SALT).unsign(token, max_age=60)
                expected = True
            except signing.SignatureExpired:
                expected = False
            assert (capability.verify(token) is not None) is expected, age


def test_a_new_secret_key_forgets_checked_capabilities(settings):
    token = capability.sign_read_capability(uuid.uuid4(), 7)
    assert capability.verify(token) is not None
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert capability.verify(token) is None  # rotated: refused, and remembered as refused

    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert capability.verify(token) is not None  # the old key is a fallback again


def test_a_forged_capability_stays_refused(hmacs):
    token = capability.sign_read_capability(uuid.uuid4(), 7)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert capability.verify(forged) is None
    assert capability.verify(forged) is None
    assert capability.verify(token) is not None


def test_the_memo_is_bounded():
    capability._signed.cache_clear()
    for _ in range(capability.MEMO_SIZE + 10):
        capability.verify(capability.sign_read_capability(uuid.uuid4(), 7))

    assert capability._signed.cache_info().currsize == capability.MEMO_SIZE
