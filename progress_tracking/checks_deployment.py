"""System checks of how the site serves the API: authentication and the fast read path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import checks

from .conf import CAPABILITY_MAX_AGE_LIMIT, DEFAULTS

# Cache backends the fast path must not rely on: each process has its own (workers' writes
# never reach the web processes'), or ``add`` is not atomic.
PER_PROCESS_CACHES = frozenset({"LocMemCache", "FileBasedCache"})


def check_authentication(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Warn when the progress API would authenticate nobody (every owner gets 401/403)."""
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    own = raw.get("AUTHENTICATION_CLASSES") if isinstance(raw, dict) else None
    if own is not None:
        classes, where = own, "PROGRESS_TRACKING['AUTHENTICATION_CLASSES']"
    else:
        from rest_framework.settings import api_settings

        classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        where = "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']"
    if isinstance(classes, list | tuple) and len(classes) == 0:
        return [
            checks.Warning(
                f"The progress API has no authentication classes ({where} is empty): every "
                "request is anonymous, so owners get 401/403 for their own sessions.",
                hint="Set PROGRESS_TRACKING['AUTHENTICATION_CLASSES'] to the classes your "
                "site logs users in with, e.g. "
                "['rest_framework.authentication.SessionAuthentication'] (see install.md).",
                id="progress_tracking.W010",
            )
        ]
    return []


def check_fast_path(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The read cache names one of the host's CACHES; capabilities stay short-lived."""
    raw = getattr(settings, "PROGRESS_TRACKING", {})
    if not isinstance(raw, dict):
        return []  # E003
    found: list[checks.CheckMessage] = []
    alias = raw.get("CACHE")
    if alias is not None and (not isinstance(alias, str) or alias not in settings.CACHES):
        found.append(
            checks.Error(
                f"PROGRESS_TRACKING['CACHE'] is {alias!r}, which is not an alias in CACHES.",
                hint=f"Use one of {', '.join(sorted(settings.CACHES))}, or None to read the "
                "database.",
                id="progress_tracking.E013",
            )
        )
    elif alias is not None:
        backend = str(settings.CACHES[alias].get("BACKEND", ""))
        if backend.rsplit(".", 1)[-1] in PER_PROCESS_CACHES:
            found.append(
                checks.Warning(
                    f"PROGRESS_TRACKING['CACHE'] uses {backend}, which is not shared by all "
                    "processes (or has no atomic add): polls may show progress older than the "
                    "database.",
                    hint="Use Redis (progress_tracking.redis_cache.RedisCache) or Memcached.",
                    id="progress_tracking.W013",
                )
            )
    max_age = raw.get("CAPABILITY_MAX_AGE", DEFAULTS["CAPABILITY_MAX_AGE"])
    numeric = isinstance(max_age, int | float) and not isinstance(max_age, bool)
    if numeric and max_age > CAPABILITY_MAX_AGE_LIMIT:
        found.append(
            checks.Error(
                f"PROGRESS_TRACKING['CAPABILITY_MAX_AGE'] is {max_age!r} seconds; a read "
                f"capability may live at most {CAPABILITY_MAX_AGE_LIMIT} seconds.",
                hint=f"The default is {DEFAULTS['CAPABILITY_MAX_AGE']}: clients renew it "
                "through their normal authentication.",
                id="progress_tracking.E015",
            )
        )
    return found
