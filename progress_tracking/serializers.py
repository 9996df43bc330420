"""Output serializers of the polling API: the status body and the small JSON answers.

The status body is the seed's fields plus this app's extensions. Progress written in the
seed's format (before the extensions existed) lacks some keys; they get their defaults here,
so every body has every field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from . import eta
from .conf import app_settings
from .models import FINAL_STATUSES, FileStatus, ProgressStatus

try:  # drf-spectacular is an optional extra.
    from drf_spectacular.utils import extend_schema_field
except ImportError:  # pragma: no cover - exercised by the "without drf-spectacular" test
    HAS_SPECTACULAR = False
else:
    HAS_SPECTACULAR = True


def _schema_field(schema: dict[str, Any]) -> Any:
    """Document a field class with this OpenAPI schema (when drf-spectacular is there)."""

    def decorate(cls: type) -> type:
        return extend_schema_field(schema)(cls) if HAS_SPECTACULAR else cls

    return decorate


def _inline_enum(values: list[str], *, nullable: bool = False) -> Any:
    """Document a field as an inline string enum (no shared component to collide with)."""
    schema: dict[str, Any] = {"type": "string", "enum": values}
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


def file_names(files: Any, limit: int) -> list[str]:
    """The names of at most ``limit`` files, in the order the session stores them."""
    if not isinstance(files, list):
        return []
    return [str(f["name"]) for f in files if isinstance(f, Mapping) and "name" in f][:limit]


def shown_files(files: Any, limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` file entries: errors, then processing, then the rest (stable order)."""
    if not isinstance(files, list):
        return []
    entries = [f for f in files if isinstance(f, Mapping)]
    ranked = sorted(entries, key=lambda f: FILE_STATUS_RANK.get(str(f.get("status")), 2))
    return [{**FILE_DEFAULTS, **f} for f in ranked[:limit]]


@_schema_field({"type": "array", "items": {"type": "string"}})
class NameListField(serializers.ListField):
    """A list of file names (strings)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), **kwargs)


class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    status = FileStatusField()
    progress = PercentField()
    message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_null=True, help_text="Why the file failed, else null.")


class _NotPlain(Exception):
    """A value the plain-JSON fast path does not handle: DRF's fields render it instead."""


def _plain(*types: type) -> Callable[[Any], Any]:
    # For values of exactly these types the field's to_representation returns them unchanged.
    def convert(value: Any) -> Any:
        if type(value) not in types:
            raise _NotPlain
        return value

    return convert


def _plain_names(value: Any) -> Any:
    if type(value) is not list or any(type(name) is not str for name in value):
        raise _NotPlain
    return value


_PASS_THROUGH: dict[Any, Callable[[Any], Any]] = {
    NameListField.to_representation: _plain_names,  # each name as str(name)
    serializers.CharField.to_representation: _plain(str),  # str(value)
    serializers.ChoiceField.to_representation: _plain(str),  # the str itself, or the value
    serializers.IntegerField.to_representation: _plain(int),  # int(value)
    PercentField.to_representation: _plain(int, float),
    SecondsField.to_representation: _plain(int, float),
}


@cache
def _plain_plan(serializer_class: type[serializers.Serializer]) -> tuple | None:
    """How to render a serializer's declared fields without DRF's per-field machinery.

    None when a field is of a kind the fast path does not know (then DRF renders as usual).
    """
    plan = []
    for name, field in serializer_class._declared_fields.items():
        if field.write_only or field.source not in (None, name):
            return None
        if isinstance(field, serializers.ListSerializer):
            child = field.child
            if (
                not isinstance(child, serializers.Serializer)
                or type(child).to_representation is not serializers.Serializer.to_representation
            ):
                return None
            child_plan = _plain_plan(type(child))
            if child_plan is None:
                return None
            plan.append((name, _plain_list(child_plan)))
            continue
        method = type(field).to_representation
        if isinstance(field, serializers.UUIDField) and field.uuid_format == "hex_verbose":
            plan.append((name, _plain(str)))  # str(value)
        elif method in _PASS_THROUGH:
            plan.append((name, _PASS_THROUGH[method]))
        else:
            return None
    return tuple(plan)


def _plain_list(child_plan: tuple) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) is not list:
            raise _NotPlain
        return [_render_plain(child_plan, item) for item in value]

    return convert


def _render_plain(plan: tuple, instance: Any) -> dict[str, Any]:
    if type(instance) is not dict:
        raise _NotPlain
    # As Serializer.to_representation: None stays None, without calling the field.
    return {
        name: None if (value := instance[name]) is None else convert(value)
        for name, convert in plan
    }


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

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        limit = self.context.get("files_limit") or app_settings.FILES_LIMIT
        files = instance.get("files")
        data = {
            **BODY_DEFAULTS,
            **instance,
            "files": shown_files(files, limit),
            "files_total": len(files) if isinstance(files, list) else 0,
            "file_list": file_names(files, limit),
            **_timings(instance),
        }
        # Polls are the hot path: DRF builds and binds a copy of every field per serializer,
        # ~15 times the cost of the body itself. Plain JSON values (what the services store)
        # are rendered directly, with the same result; anything else goes through DRF.
        plan = None if "fields" in self.__dict__ else _plain_plan(type(self))
        if plan is not None:
            try:
                return _render_plain(plan, data)
            except (_NotPlain, KeyError):
                pass
        return super().to_representation(data)


def _timings(instance: Mapping[str, Any]) -> dict[str, Any]:
    # Computed when the body is rendered: they move with the clock, not only with writes.
    progress = dict(instance)
    now = timezone.now().timestamp()
    final = progress.get("status") in FINAL_STATUSES
    return {
        "elapsed_seconds": eta.elapsed_seconds(progress, now),
        "eta_seconds": eta.eta_seconds(progress, now, final=final),
    }


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
