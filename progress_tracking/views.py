"""The polling API: one thin DRF view per operation.

Settings are read per request (``get_authenticators``/``get_permissions``), so a host's
``PROGRESS_TRACKING`` and ``REST_FRAMEWORK`` settings, and ``override_settings`` in tests, take
effect without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import InterfaceError, OperationalError
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import parse_etags
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from . import capability, schema, selectors, services, sweeper
from .conf import app_settings
from .deprecation import moved_names
from .exceptions import SessionNotFound
from .routing import MethodRouter
from .serializers import ClearedSerializer, ProgressStatusSerializer
from .text import scrubbed

logger = logging.getLogger(__name__)

NOT_FOUND_DETAIL = _("Progress session not found.")
UNAVAILABLE_DETAIL = _("Progress is temporarily unavailable; try again shortly.")
# Seconds a client should wait after a 503 (the poller also backs off on its own).
RETRY_AFTER_SECONDS = 5
# The seed's exact body: clients may compare it, so it is not translated.
CLEARED_MESSAGE = "Progress data cleared successfully"
LEGACY_DETAIL = _(
    "The Server-Sent Events progress endpoint is deprecated and no longer streams: "
    "use the status endpoint (status_url) and poll it."
)
# When the SSE endpoint was retired (RFC 9745 ``Deprecation: @<unix time>``).
SSE_DEPRECATED_AT = datetime(2026, 11, 1, tzinfo=UTC)
# Bump when the status body's shape changes, so cached ETags from older releases never match.
BODY_FORMAT = "2"


def resolve_classes(entries: Iterable[Any]) -> list[type]:
    return [import_string(e) if isinstance(e, str) else e for e in entries]


def format_seconds(value: float) -> str:
    """``1`` -> ``"1"``, ``1.0`` -> ``"1"``, ``0.25`` -> ``"0.25"``."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def status_etag(progress: Mapping[str, Any], files_limit: int) -> str:
    """A strong ETag that changes whenever the status body does, without rendering it.

    Every write through the services bumps ``version``. Progress written in the seed's format
    has no version, so its ETag is derived from the whole stored dict instead. The ETag is
    ``"<version>-<digest>"``.
    """
    version = progress.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > 0:
        state = f"{version}:{progress.get('last_updated')}:{progress.get('status')}"
    else:
        version = 0
        state = json.dumps(progress, sort_keys=True, default=str)
    key = f"{BODY_FORMAT}:{files_limit}:{progress.get('session_id')}:{state}"
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    # The version leads, so the fast path can tell a client that has seen newer (fastpath).
    return f'"{version}-{digest}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison (RFC 9110 13.1.2); ``*`` matches any."""
    if not if_none_match:
        return False
    tags = parse_etags(if_none_match)
    if tags == ["*"]:
        return True
    return any(tag.removeprefix("W/") == etag for tag in tags)


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Always answer JSON, whatever ``Accept`` says (an EventSource sends text/event-stream)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class ProgressJSONRenderer(JSONRenderer):
    """JSON that renders whatever text a row holds.

    Releases before text validation let SQLite store lone surrogates, which UTF-8 cannot
    encode; such a body is rendered again with them replaced, instead of failing every later
    poll. Bodies without them (all others) cost nothing extra.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(scrubbed(data), accepted_media_type, renderer_context)


class ProgressAPIView(APIView):
    """Base of the API views: host-configurable auth, JSON only, never cached."""

    renderer_classes = (ProgressJSONRenderer,)
    parser_classes = ()
    content_negotiation_class = JSONOnlyNegotiation
    poll_interval_header = False

    def get_authenticators(self) -> list[Any]:
        classes = app_settings.AUTHENTICATION_CLASSES
        if classes is None:
            classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        return [cls() for cls in resolve_classes(classes)]

    def get_permissions(self) -> list[Any]:
        return [cls() for cls in resolve_classes(app_settings.PERMISSION_CLASSES)]

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        # A session the caller may not see answers exactly like a missing one: never 403.
        for permission in self.get_permissions():
            if not permission.has_object_permission(request, self, obj):
                raise NotFound(NOT_FOUND_DETAIL)

    def get_session(self, session_id: str) -> selectors.SessionRecord:
        """The live session the caller may see, in one query; else 404."""
        record = selectors.session_for_api(session_id)
        if record is None:
            raise NotFound(NOT_FOUND_DETAIL)
        self.check_object_permissions(self.request, record)
        return record

    def handle_exception(self, exc: Exception) -> Response:
        # The database is unreachable (restart, failover, network): a JSON 503 the poller
        # retries, instead of Django's HTML error page.
        if isinstance(exc, OperationalError | InterfaceError):
            logger.warning("Progress API cannot reach the database: %s", exc)
            return Response(
                {"detail": UNAVAILABLE_DETAIL},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        sweeper.sweep_if_due()  # at most a clock comparison; a due sweep runs in a thread
        if self.poll_interval_header:
            response["X-Poll-Interval"] = format_seconds(app_settings.POLL_INTERVAL)
        return response


@schema.list_view
class SessionListView(ProgressAPIView):
    """The caller's sessions still processing, so another tab or device can pick them up."""

    poll_interval_header = True

    def get(self, request: Request) -> Response:
        running = selectors.running_progress_for(request.user, limit=selectors.LIST_LIMIT)
        serializer = ProgressStatusSerializer(
            running, many=True, context={"files_limit": app_settings.FILES_LIMIT}
        )
        return Response({"results": serializer.data})


@schema.status_view
class SessionStatusView(ProgressAPIView):
    """Poll a session: the status body, or 304 when ``If-None-Match`` has the current ETag."""

    poll_interval_header = True

    def get(self, request: Request, session_id: str) -> Response:
        record = self.get_session(session_id)
        progress = record.progress
        files_limit = app_settings.FILES_LIMIT
        etag = status_etag(progress, files_limit)
        headers = {"ETag": etag, **capability.issued_headers(request.user, record)}
        if etag_matches(request.headers.get("If-None-Match"), etag):
            return Response(status=304, headers=headers)
        body = ProgressStatusSerializer(progress, context={"files_limit": files_limit}).data
        return Response(body, headers=headers)


@schema.legacy_stream_view
class LegacyStreamView(ProgressAPIView):
    """The retired SSE stream: ``410 Gone`` for every id, with the status URL to poll instead.

    It needs neither authentication nor the database, and answers JSON (never an event
    stream), so an old ``EventSource`` stops instead of reconnecting.
    """

    def get_authenticators(self) -> list[Any]:
        return []

    def get_permissions(self) -> list[Any]:
        return []

    def get(self, request: Request, session_id: str) -> Response:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        name = f"{namespace}:status" if namespace else "progress_tracking:status"
        status_url = request.build_absolute_uri(reverse(name, kwargs={"session_id": session_id}))
        return Response(
            {"detail": LEGACY_DETAIL, "status_url": status_url},
            status=410,
            headers={
                "Deprecation": f"@{int(SSE_DEPRECATED_AT.timestamp())}",
                "Link": f'<{status_url}>; rel="successor-version"',
            },
        )


@schema.clear_view
class SessionClearView(ProgressAPIView):
    """Clear a session's progress (the row that carried it stays)."""

    def delete(self, request: Request, session_id: str) -> Response:
        self.get_session(session_id)
        if not services.clear_progress(session_id):
            raise NotFound(NOT_FOUND_DETAIL)  # cleared by someone else meanwhile
        return Response(ClearedSerializer({"message": CLEARED_MESSAGE}).data)


class SessionView(MethodRouter, ProgressAPIView):
    """``GET``: the retired SSE stream (410 Gone). ``DELETE``: clear a session's progress."""

    # Two operations share this URL; each is its own view, chosen by the request's method.
    # (The docstring is what OPTIONS answers describe the URL with.)
    routes = {"GET": LegacyStreamView, "DELETE": SessionClearView}


@schema.cancel_view
class SessionCancelView(ProgressAPIView):
    """Cancel a session: the answer is its status body, ``cancelled`` unless it had ended."""

    def post(self, request: Request, session_id: str) -> Response:
        self.get_session(session_id)
        try:
            progress = services.request_cancel(session_id)
        except SessionNotFound:  # went stale or was cleared meanwhile
            raise NotFound(NOT_FOUND_DETAIL) from None
        files_limit = app_settings.FILES_LIMIT
        body = ProgressStatusSerializer(progress, context={"files_limit": files_limit}).data
        return Response(body, headers={"ETag": status_etag(progress, files_limit)})


if not TYPE_CHECKING:  # so that mypy still reports a misspelt attribute of this module
    __getattr__ = moved_names(__name__, {"LIST_LIMIT": "progress_tracking.selectors"})
