"""OpenAPI documentation of the API views, through drf-spectacular when it is installed.

drf-spectacular is an optional extra (``django-progress-tracking[spectacular]``): without it
every decorator here returns the view unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .models import FINAL_STATUSES
from .routing import MethodRouter
from .selectors import LIST_LIMIT
from .serializers import (
    ClearedSerializer,
    DeprecatedSerializer,
    DetailSerializer,
    ProgressListSerializer,
    ProgressStatusSerializer,
)

try:
    from drf_spectacular.extensions import OpenApiViewExtension
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import (
        OpenApiParameter,
        OpenApiResponse,
        extend_schema,
        extend_schema_view,
    )
except ImportError:  # pragma: no cover - exercised by the "without drf-spectacular" test
    HAS_SPECTACULAR = False
else:
    HAS_SPECTACULAR = True

V = TypeVar("V", bound=type[Any])
TAGS = ["progress"]


def _documented(build: Callable[[], dict[str, Any]]) -> Callable[[V], V]:
    """A class decorator applying ``extend_schema_view(**build())``, or nothing."""

    def decorate(view: V) -> V:
        if not HAS_SPECTACULAR:
            return view
        return extend_schema_view(**build())(view)

    return decorate


def _header(name: str, type_: Any, description: str, codes: list[int], **kwargs: Any) -> Any:
    return OpenApiParameter(
        name,
        type_,
        OpenApiParameter.HEADER,
        required=True,
        description=description,
        response=codes,
        **kwargs,
    )


def _session_id(description: str = " Any other value answers 404.") -> Any:
    return OpenApiParameter(
        "session_id",
        str,
        OpenApiParameter.PATH,
        description="The session id (a UUID) returned by start_session()." + description,
    )


def _errors(*codes: int) -> dict[int, Any]:
    text = {
        401: "Not authenticated (authentication schemes that send WWW-Authenticate).",
        403: "Not authenticated (session authentication), or refused by a permission class; "
        "also a session-authenticated DELETE or POST without a valid CSRF token.",
        404: "Unknown, malformed, expired or stale id, or a session of another user: all "
        "answer the same body.",
        503: "The database is unreachable; retry after the Retry-After header's seconds.",
    }
    return {code: OpenApiResponse(DetailSerializer, description=text[code]) for code in codes}


def _one_of(values: frozenset[str]) -> str:
    """``{"b", "a", "c"}`` -> ``"a, b or c"``."""
    *others, last = sorted(values)
    return f"{', '.join(others)} or {last}" if others else last


def _poll_interval(codes: list[int]) -> Any:
    return _header(
        "X-Poll-Interval",
        OpenApiTypes.NUMBER,
        "Seconds the client should wait before its next poll (PROGRESS_TRACKING['POLL_INTERVAL']).",
        codes,
    )


def _status_schema() -> dict[str, Any]:
    return {
        "get": extend_schema(
            operation_id="progress_status",
            summary="Poll a session's progress",
            description="The status body of a live session. Send the last ETag in "
            "If-None-Match to get 304 without a body while nothing changed. Poll again after "
            f"X-Poll-Interval seconds; stop when status is {_one_of(FINAL_STATUSES)}.",
            tags=TAGS,
            parameters=[
                _session_id(),
                OpenApiParameter(
                    "If-None-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="ETag(s) of a status body the client already has, or *.",
                ),
                _header(
                    "ETag",
                    str,
                    "Strong validator of the status body; changes whenever the body changes.",
                    [200, 304],
                ),
                _poll_interval([200, 304, 404]),
                OpenApiParameter(
                    "X-Progress-Capability",
                    str,
                    OpenApiParameter.HEADER,
                    description="A signed read capability for this session, as handed out in "
                    "the X-Progress-Capability response header. With a valid one the poll needs "
                    "no other authentication; an invalid or expired one is ignored.",
                ),
                OpenApiParameter(
                    "X-Progress-Capability",
                    str,
                    OpenApiParameter.HEADER,
                    description="A fresh read capability for the session, sent to its owner "
                    "when the poll was authenticated by cookie or token.",
                    response=[200, 304],
                ),
            ],
            responses={
                200: ProgressStatusSerializer,
                304: OpenApiResponse(description="Not modified: If-None-Match matched. No body."),
                **_errors(401, 403, 404, 503),
            },
        )
    }


def _list_schema() -> dict[str, Any]:
    return {
        "get": extend_schema(
            operation_id="progress_list",
            summary="List the caller's running sessions",
            description="Sessions of the caller still processing (not stale), newest first, "
            f"at most {LIST_LIMIT}. Lets another tab or device resume polling.",
            tags=TAGS,
            parameters=[_poll_interval([200])],
            responses={200: ProgressListSerializer, **_errors(401, 403, 503)},
        )
    }


def _legacy_stream_schema() -> dict[str, Any]:
    return {
        "get": extend_schema(
            operation_id="progress_stream_legacy",
            summary="Retired Server-Sent Events stream",
            description="Always 410 Gone, for every id, with JSON (never text/event-stream, so "
            "an old EventSource stops instead of reconnecting). Poll status_url instead.",
            deprecated=True,
            tags=TAGS,
            parameters=[
                _session_id(" Any value answers 410."),
                _header(
                    "Deprecation",
                    str,
                    "RFC 9745: when this endpoint was deprecated, as @<unix time>.",
                    [410],
                    pattern=r"^@[0-9]+$",
                ),
                _header(
                    "Link",
                    str,
                    'The status endpoint: <status_url>; rel="successor-version".',
                    [410],
                ),
            ],
            responses={410: OpenApiResponse(DeprecatedSerializer, description="Gone.")},
        )
    }


def _clear_schema() -> dict[str, Any]:
    return {
        "delete": extend_schema(
            operation_id="progress_clear",
            summary="Clear a session's progress",
            description="Removes the session's progress (the row that carried it stays).",
            tags=TAGS,
            parameters=[_session_id()],
            responses={200: ClearedSerializer, **_errors(401, 403, 404, 503)},
        )
    }


def _cancel_schema() -> dict[str, Any]:
    return {
        "post": extend_schema(
            operation_id="progress_cancel",
            summary="Cancel a session",
            description="Ends a processing session as cancelled, with its unfinished files; "
            "its worker stops at its next progress write. Answers the status body: status is "
            "cancelled, or completed/error when the session had already ended (then nothing "
            "changed). Send the CSRF token with session authentication.",
            tags=TAGS,
            request=None,
            parameters=[_session_id()],
            responses={200: ProgressStatusSerializer, **_errors(401, 403, 404, 503)},
        )
    }


status_view = _documented(_status_schema)
cancel_view = _documented(_cancel_schema)
list_view = _documented(_list_schema)
legacy_stream_view = _documented(_legacy_stream_schema)
clear_view = _documented(_clear_schema)


if HAS_SPECTACULAR:

    class MethodRouterSchema(OpenApiViewExtension):
        """Document each method of a ``MethodRouter``'s URL from the view that serves it."""

        target_class = MethodRouter
        match_subclasses = True

        def view_replacement(self) -> type[Any]:
            router: type[MethodRouter] = self.target
            served = tuple(dict.fromkeys(router.routes.values()))

            def get_authenticators(view: Any) -> list[Any]:
                # Asked first while drf-spectacular builds its mock request (no request yet),
                # then with the mock request of the method it documents.
                request = getattr(view, "request", None)
                answering = router.route(request.method) if request is not None else None
                return list(answering().get_authenticators()) if answering else []

            return type(
                router.__name__,
                served,
                {"get_authenticators": get_authenticators, "__doc__": router.__doc__},
            )
