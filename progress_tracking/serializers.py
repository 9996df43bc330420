"""Output serializers of the polling API: the status body and the small JSON answers.

The status body (``payload.StatusBody``) is the seed's fields plus this app's extensions.
``body`` puts it together and renders plain bodies without DRF; the fields declared here
document it (OpenAPI) and render whatever is not plain. Progress written in the seed's format
(before the extensions existed) lacks some keys; they get their defaults, so every body has
every field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.utils import timezone
from rest_framework import serializers

from .body import body_data, plain_body
from .conf import app_settings
from .deprecation import moved_names
from .models import FileStatus, ProgressStatus

try:  # drf-spectacular is an optional extra.
    from drf_spectacular.utils import extend_schema_field
except ImportError:  # pragma: no cover - exercised by the "without drf-spectacular" test
    HAS_SPECTACULAR = False
else:
    HAS_SPECTACULAR = True


_FieldClass = TypeVar("_FieldClass", bound=type)
# The instance every serializer here renders: a JSON object (dict) put together by the views.
JSONObject = Mapping[str, object]


def _schema_field(schema: dict[str, object]) -> Callable[[_FieldClass], _FieldClass]:
    """Document a field class with this OpenAPI schema (when drf-spectacular is there)."""

    def decorate(cls: _FieldClass) -> _FieldClass:
        return extend_schema_field(schema)(cls) if HAS_SPECTACULAR else cls

    return decorate


def _inline_enum(
    values: list[str], *, nullable: bool = False
) -> Callable[[_FieldClass], _FieldClass]:
    """Document a field as an inline string enum (no shared component to collide with)."""
    schema: dict[str, object] = {"type": "string", "enum": values}
    if nullable:
        schema["nullable"] = True
    return _schema_field(schema)


@_inline_enum(ProgressStatus.values)
class SessionStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ProgressStatus.choices, **kwargs)


@_inline_enum(FileStatus.values)
class FileStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=FileStatus.choices, **kwargs)


class PercentField(serializers.FloatField):
    """0-100, kept as stored: ``50`` stays ``50``, ``12.5`` stays ``12.5``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=100, **kwargs)

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return float(value)


class SecondsField(serializers.FloatField):
    """A duration in seconds, kept as computed (a number, or null where allowed)."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return float(value)


@_schema_field({"type": "array", "items": {"type": "string"}})
class NameListField(serializers.ListField):
    """A list of file names (strings)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), **kwargs)


class FileEntrySerializer(serializers.Serializer[JSONObject]):
    name = serializers.CharField()
    status = FileStatusField()
    progress = PercentField()
    message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_null=True, help_text="Why the file failed, else null.")


# Any: DRF's stubs give one instance type for one body and for the list of many=True.
class ProgressStatusSerializer(serializers.Serializer[Any]):
    """The progress of one session, as the seed's status body plus this app's extensions."""

    # Instance: the stored progress dict; context "files_limit" caps "files".

    session_id = serializers.UUIDField()
    status = SessionStatusField()
    progress = PercentField(help_text="Overall progress, 0-100.")
    message = serializers.CharField(allow_blank=True)
    total_files = serializers.IntegerField(min_value=0)
    processed_files = serializers.IntegerField(min_value=0)
    current_file = serializers.CharField(allow_null=True)
    last_updated = serializers.IntegerField(help_text="Unix time of the last change, seconds.")
    error = serializers.CharField(allow_null=True, help_text="Why the session failed, else null.")
    failed_files = serializers.IntegerField(min_value=0)
    files = FileEntrySerializer(
        many=True,
        help_text="At most FILES_LIMIT entries: failed files first, then files in progress, "
        "then the rest, each group in its stored order.",
    )
    files_total = serializers.IntegerField(
        min_value=0, help_text="How many file entries the session has (files may show fewer)."
    )
    file_list = NameListField(
        help_text="The names of the session's files in their stored order, at most "
        "FILES_LIMIT, whatever their status (the seed's client seeds its per-file list from it)."
    )
    started_at = serializers.IntegerField(allow_null=True)
    finished_at = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(
        min_value=0, help_text="Grows with every change; the ETag is derived from it."
    )
    object_id = serializers.CharField(
        allow_null=True,
        help_text="Primary key of the row the session belongs to (e.g. the knowledge base), "
        "so a page can pick its own sessions out of the list.",
    )
    elapsed_seconds = SecondsField(
        min_value=0,
        help_text="Seconds since the session started (until it finished, once final); "
        "0 when the start is unknown.",
    )
    eta_seconds = SecondsField(
        min_value=0,
        allow_null=True,
        help_text="Estimated seconds left at the session's recent pace; null while it "
        "cannot be estimated (too early, stalled, failed); 0 once completed.",
    )

    def to_representation(self, instance: JSONObject) -> dict[str, Any]:
        limit = self.context.get("files_limit") or app_settings.FILES_LIMIT
        data = body_data(instance, limit, timezone.now().timestamp())
        # Polls are the hot path: DRF builds and binds a copy of every field per serializer,
        # ~15 times the cost of the body itself. A body of plain JSON values (what the
        # services store) renders without them, with the same result; anything else, and a
        # subclass (which may declare other fields), goes through DRF's fields.
        if type(self) is ProgressStatusSerializer:
            plain = plain_body(data)
            if plain is not None:
                return dict(plain)
        return super().to_representation(data)


class ProgressListSerializer(serializers.Serializer[JSONObject]):
    results = ProgressStatusSerializer(many=True)


class DetailSerializer(serializers.Serializer[JSONObject]):
    """An error: what went wrong, in words."""

    detail = serializers.CharField()


class ClearedSerializer(serializers.Serializer[JSONObject]):
    message = serializers.CharField()


class DeprecatedSerializer(serializers.Serializer[JSONObject]):
    detail = serializers.CharField()
    status_url = serializers.URLField(help_text="Absolute URL of the status endpoint to poll.")


# Names that moved to ``body`` and ``payload``; importing them from here still works.
_MOVED = {
    "BODY_DEFAULTS": "progress_tracking.payload",
    "FILE_DEFAULTS": "progress_tracking.payload",
    "FILE_STATUS_RANK": "progress_tracking.body",
    "file_names": "progress_tracking.body",
    "shown_files": "progress_tracking.body",
}

if not TYPE_CHECKING:  # so that mypy still reports a misspelt attribute of this module
    __getattr__ = moved_names(__name__, _MOVED)
