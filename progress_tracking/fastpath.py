"""The status endpoint's hot path: a plain Django view in front of the DRF one.

A poll that carries a valid read capability (see ``capability``) is answered here, without
DRF's request machinery, the session store or the user table:

- with ``PROGRESS_TRACKING["CACHE"]``: from the cached record (0 database queries, one cache
  read, or none when this process read it less than ``cache.MEMO_TTL`` ago), the ETag
  compared before any body exists;
- without it (or on a cache miss or outage): with one indexed query on the progress row.

Everything else goes to the DRF view unchanged: no or a bad capability, a capability for
another session or user, an owner that is not the capability's user (staff reading someone
else's session), permission classes other than the app's defaults (the fast path only grants
what ``IsOwnerOrStaff`` grants an owner, so it steps aside for rules it cannot know), and a
database error other than an unreachable database (the DRF view then answers as it does for
any poll). An unreachable database answers the DRF view's own JSON 503 with ``Retry-After``
here: a poll that carries only a capability would otherwise be refused by the DRF view's
authentication instead of being told to retry. A session that is gone answers exactly the DRF
view's 404. Every fast answer also gives the automatic cleanup its (clock-only) chance to run,
as DRF answers do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache as memoize
from functools import lru_cache
from typing import Any, NamedTuple

from django.core.cache import caches
from django.core.signals import setting_changed
from django.db import DatabaseError, InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date, parse_etags
from django.utils.translation import get_language
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer

from . import cache, capability, selectors, sweeper
from .conf import app_settings
from .permissions import IsOwnerOrStaff
from .views import (
    NOT_FOUND_DETAIL,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_DETAIL,
    etag_matches,
    format_seconds,
    resolve_classes,
    status_etag,
)

logger = logging.getLogger("progress_tracking.fastpath")

# What DRF's status view sends besides the body; the fast answers send the same.
ALLOW = "GET, HEAD, OPTIONS"
# Permission classes under which the owner of a session may read it (exact classes, not
# subclasses, which may deny more): with any other class configured the fast path is off.
OWNER_READABLE = frozenset({IsAuthenticated, IsOwnerOrStaff, AllowAny})


@memoize
def _owner_reads_allowed(entries: tuple[Any, ...]) -> bool:
    return all(cls in OWNER_READABLE for cls in resolve_classes(entries))


def enabled() -> bool:
    """Whether the configured permission classes let an owner read their session."""
    return _owner_reads_allowed(tuple(app_settings.PERMISSION_CLASSES))


class Setup(NamedTuple):
    """The settings a fast answer reads, looked up once per process (and per override)."""

    enabled: bool
    cache_alias: str | None
    key_prefix: str
    files_limit: int
    capability_max_age: float
    poll_interval: str  # the X-Poll-Interval header
    cache_control: str  # Django's never_cache, as the DRF view sends it


_setup: Setup | None = None


def setup() -> Setup:
    global _setup
    current = _setup
    if current is None:
        files_limit = app_settings.FILES_LIMIT
        never = HttpResponse()
        add_never_cache_headers(never)
        current = _setup = Setup(
            enabled=enabled(),
            cache_alias=app_settings.CACHE,
            key_prefix=cache.key_prefix(files_limit),
            files_limit=files_limit,
            capability_max_age=app_settings.CAPABILITY_MAX_AGE,
            poll_interval=format_seconds(app_settings.POLL_INTERVAL),
            cache_control=never["Cache-Control"],
        )
    return current


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    global _setup
    _setup = None


@lru_cache(maxsize=1)
def _expires(second: int) -> str:
    return http_date(second)


def headers(etag: str | None = None) -> dict[str, str]:
    """The headers the DRF view adds to a status answer (``never_cache``, Allow, interval)."""
    current = setup()
    found = {
        "Allow": ALLOW,
        "X-Poll-Interval": current.poll_interval,
        "Expires": _expires(int(time.time())),
        "Cache-Control": current.cache_control,
    }
    if etag is not None:
        found["ETag"] = etag
    return found


@memoize
def _not_found_body(language: str | None) -> bytes:
    # NOT_FOUND_DETAIL is lazy: the active language decides the text, as in DRF's 404.
    return JSONRenderer().render({"detail": str(NOT_FOUND_DETAIL)})


def not_found() -> HttpResponse:
    return HttpResponse(
        _not_found_body(get_language()),
        status=404,
        content_type="application/json",
        headers=headers(),
    )


def unavailable(exc: Exception) -> HttpResponse:
    """The DRF view's 503 for an unreachable database, byte for byte."""
    logger.warning("Progress API cannot reach the database: %s", exc)
    body = JSONRenderer().render({"detail": str(UNAVAILABLE_DETAIL)})
    return HttpResponse(
        body,
        status=503,
        content_type="application/json",
        headers={**headers(), "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def answer(request: HttpRequest, etag: str, body: Callable[[], bytes]) -> HttpResponse:
    """304 when ``If-None-Match`` has ``etag`` (no body is built), else 200 with ``body()``."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match == etag or etag_matches(if_none_match, etag):
        return HttpResponseNotModified(headers=headers(etag))
    return HttpResponse(body(), content_type="application/json", headers=headers(etag))


def answer_record(request: HttpRequest, record: cache.CachedStatus) -> HttpResponse:
    """From a cached record: the body (with its clock-dependent fields) is rendered now."""

    def body() -> bytes:
        progress = record.progress
        assert progress is not None
        return cache.render_body(progress, setup().files_limit)

    return answer(request, record.etag, body)


def newest_version_seen(if_none_match: str | None) -> int:
    """The highest version among the client's ETags (``"<version>-<digest>"``), else 0."""
    if not if_none_match:
        return 0
    newest = 0
    for tag in parse_etags(if_none_match):
        head = tag.removeprefix("W/").strip('"').partition("-")[0]
        if head.isdigit() and len(head) < 19:
            newest = max(newest, int(head))
    return newest


def _claim(request: HttpRequest, session_id: str, current: Setup) -> capability.ReadClaim | None:
    """The capability's claim if it is valid and names the session in the URL."""
    claim = capability.verify(request.META.get(capability.META_KEY), current.capability_max_age)
    if claim is None or session_id == claim.session_id:  # signed ids are canonical UUIDs
        return claim
    uuid = selectors.parse_session_id(session_id)  # the URL may spell it differently
    return claim if uuid is not None and str(uuid) == claim.session_id else None


def _is_current(record: cache.CachedStatus, if_none_match: str | None) -> bool:
    """Whether a cached record may answer: not older than any version the client has seen."""
    return (
        record.state is None
        or if_none_match == record.etag
        or record.version >= newest_version_seen(if_none_match)
    )


def fast_status(request: HttpRequest, session_id: str) -> HttpResponse | None:
    """The answer for a poll with a valid capability, or None to let the DRF view answer."""
    current = setup()
    if not current.enabled:
        return None
    claim = _claim(request, session_id, current)
    if claim is None:
        return None
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    store = record = None
    if current.cache_alias:
        try:
            store = caches[current.cache_alias]
            record = cache.read_for_poll(
                store,
                current.key_prefix + claim.session_id,
                lambda kept: _is_current(kept, if_none_match),
            )
        except Exception:
            logger.warning("Progress cache unavailable: polls read the database", exc_info=True)
            store = record = None
    if record is not None and _is_current(record, if_none_match):
        if record.gone:
            return not_found()
        return answer_record(request, record) if record.owner == claim.user_pk else None
    # Not cached, or the cache is behind what this client has already seen: ask the database.
    try:
        found = selectors.session_for_api(claim.session_id)
    except (OperationalError, InterfaceError) as exc:
        return unavailable(exc)
    except DatabaseError:
        return None
    if found is None:
        return not_found()
    if found.owner_id is None or str(found.owner_id) != claim.user_pk:
        return None
    if store is None:
        progress, files_limit = found.progress, current.files_limit
        etag = status_etag(progress, files_limit)
        return answer(request, etag, lambda: cache.render_body(progress, files_limit))
    record = cache.build_record(found.progress, found.owner_id, found.updated_at)
    cache.remember(store, claim.session_id, record)
    return answer_record(request, record)


def with_read_capability(drf_view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the DRF status view: capability polls are answered first, the rest by DRF.

    The wrapper keeps the DRF view's ``cls`` and ``initkwargs``, so schema generators
    (drf-spectacular) still document the endpoint from the DRF view class.
    """

    def view(request: HttpRequest, session_id: str) -> Any:
        if request.method == "GET" and capability.META_KEY in request.META:
            response = fast_status(request, session_id)
            if response is not None:
                sweeper.sweep_if_due()  # as ProgressAPIView.finalize_response does
                return response
        return drf_view(request, session_id=session_id)

    view.cls = drf_view.cls  # type: ignore[attr-defined]
    view.initkwargs = drf_view.initkwargs  # type: ignore[attr-defined]
    view.csrf_exempt = True  # type: ignore[attr-defined]
    view.__doc__ = drf_view.__doc__
    view.__name__ = getattr(drf_view, "__name__", "status")
    return view
