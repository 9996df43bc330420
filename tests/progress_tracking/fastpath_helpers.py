"""Shared pieces of the fast-path tests: URLs, clients, a cache that always fails."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache
from django.test import Client
from django.urls import reverse

from progress_tracking import capability

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def status_url(session_id: str) -> str:
    return reverse("progress_tracking:status", kwargs={"session_id": session_id})


def with_capability(token: str, **headers: str) -> dict[str, str]:
    """Request headers of a poll that carries ``token`` (Django test client spelling)."""
    return {capability.META_KEY: token, **headers}


def bare_client() -> Client:
    """No cookie, no credentials: only a capability can authenticate its polls."""
    return Client()


def use_cache(settings: Any, backend: str = LOCMEM, location: str = "fastpath", **extra: Any):
    """Point PROGRESS_TRACKING["CACHE"] at a fresh cache alias "progress"."""
    settings.CACHES = {
        **settings.CACHES,
        "progress": {"BACKEND": backend, "LOCATION": location, **extra},
    }
    settings.PROGRESS_TRACKING = {**getattr(settings, "PROGRESS_TRACKING", {}), "CACHE": "progress"}
    from django.core.cache import caches

    store = caches["progress"]
    if backend == LOCMEM:
        store.clear()
    return store


class CacheDown(ConnectionError):
    """What a cache client raises when its server does not answer."""


class BrokenCache(BaseCache):
    """A cache whose server is down: every operation raises, like a Redis that stopped."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise CacheDown("Connection refused")

    add = get = set = touch = delete = has_key = clear = _fail
    get_many = set_many = delete_many = incr = decr = _fail
