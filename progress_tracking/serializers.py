"""Output serializers of the polling API: the status body and the small JSON answers.

The status body is the seed's fields plus this app's extensions. Progress written in the
seed's format (before the extensions existed) lacks some keys; they get their defaults here,
so every body has every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from .conf import app_settings
from .models import FileStatus, ProgressStatus

try:  # drf-spectacular is an optional extra.
    from drf_spectacular.utils import extend_schema_field
except ImportError:  # pragma: no cover - exercised by the "without drf-spectacular" test
    HAS_SPECTACULAR = False
else:
    HAS_SPECTACULAR = True


def _inline_enum(values: list[str], *, nullable: bool = False) -> Any:
    """Document a field as an inline string enum (no shared component to collide with)."""
    schema: dict[str, Any] = {"type": "string", "enum": values}
    if nullable:
        schema["nullable"] = True

    def decorate(cls: type) -> type:
        return extend_schema_field(schema)(cls) if HAS_SPECTACULAR else cls

    return decorate


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


# Rank of a file's status in the body: failures first, then work in progress, then the rest.
FILE_STATUS_RANK = {FileStatus.ERROR.value: 0, FileStatus.PROCESSING.value: 1}

FILE_DEFAULTS: dict[str, Any] = {
    "status": FileStatus.PENDING.value,
    "progress": 0,
    "message": "",
    "error": None,
}

# What a body shows for keys that progress stored in the seed's format does not have.
BODY_DEFAULTS: dict[str, Any] = {
    "progress": 0,
    "message": "",
    "total_files": 0,
    "processed_files": 0,
    "current_file": None,
    "last_updated": 0,
    "error": None,
    "failed_files": 0,
    "started_at": None,
    "finished_at": None,
    "version": 0,
    "object_id": None,
}


def shown_files(files: Any, limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` file entries: errors, then processing, then the rest (stable order)."""
    if not isinstance(files, list):
        return []
    entries = [f for f in files if isinstance(f, Mapping)]
    ranked = sorted(entries, key=lambda f: FILE_STATUS_RANK.get(str(f.get("status")), 2))
    return [{**FILE_DEFAULTS, **f} for f in ranked[:limit]]


class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    status = FileStatusField()
    progress = PercentField()
    message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_null=True, help_text="Why the file failed, else null.")


class ProgressStatusSerializer(serializers.Serializer):
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

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        limit = self.context.get("files_limit") or app_settings.FILES_LIMIT
        files = instance.get("files")
        data = {
            **BODY_DEFAULTS,
            **instance,
            "files": shown_files(files, limit),
            "files_total": len(files) if isinstance(files, list) else 0,
        }
        return super().to_representation(data)


class ProgressListSerializer(serializers.Serializer):
    results = ProgressStatusSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    """An error: what went wrong, in words."""

    detail = serializers.CharField()


class ClearedSerializer(serializers.Serializer):
    message = serializers.CharField()


class DeprecatedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status_url = serializers.URLField(help_text="Absolute URL of the status endpoint to poll.")
