"""The status body rendered from a stored progress dict, without DRF.

``body_data`` puts together what a body shows (defaults for keys that seed-format progress
lacks, the ranked ``files``, the computed keys); ``plain_body`` turns it into the JSON body
when every value already has its JSON type, which is the case for everything the services
store. The serializer uses both and lets DRF's fields render anything else; the template tag
and the admin use ``shown_files``. The keys and their types come from ``payload.StatusBody``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Final, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

from . import eta
from .models import FINAL_STATUSES, FileStatus
from .payload import BODY_DEFAULTS, FILE_DEFAULTS, StatusBody

# Rank of a file's status in the body: failures first, then work in progress, then the rest.
FILE_STATUS_RANK: Final = {FileStatus.ERROR.value: 0, FileStatus.PROCESSING.value: 1}


def file_names(files: object, limit: int) -> list[str]:
    """The names of at most ``limit`` files, in the order the session stores them."""
    if not isinstance(files, list):
        return []
    return [str(f["name"]) for f in files if isinstance(f, Mapping) and "name" in f][:limit]


def shown_files(files: object, limit: int) -> list[dict[str, object]]:
    """At most ``limit`` file entries: errors, then processing, then the rest (stable order).

    Each entry has every ``FileEntry`` key but ``name`` (kept as stored, or absent), with
    defaults for the keys an older entry lacks.
    """
    if not isinstance(files, list):
        return []
    entries = [f for f in files if isinstance(f, Mapping)]
    ranked = sorted(entries, key=lambda f: FILE_STATUS_RANK.get(str(f.get("status")), 2))
    return [{**FILE_DEFAULTS, **f} for f in ranked[:limit]]


def body_data(progress: Mapping[str, object], files_limit: int, now: float) -> dict[str, object]:
    """What the body of ``progress`` shows at ``now``, before its values are rendered."""
    files = progress.get("files")
    final = progress.get("status") in FINAL_STATUSES
    return {
        **BODY_DEFAULTS,
        **progress,
        "files": shown_files(files, files_limit),
        "files_total": len(files) if isinstance(files, list) else 0,
        "file_list": file_names(files, files_limit),
        # Computed when the body is rendered: they move with the clock, not only with writes.
        "elapsed_seconds": eta.elapsed_seconds(progress, now),
        "eta_seconds": eta.eta_seconds(progress, now, final=final),
    }


class _NotPlain(Exception):
    """A value without its JSON type: DRF's fields render the body instead."""


# How a key renders: the exact types its value may have (a bool is not an int here, None only
# where the TypedDict allows it), or for a list, a function that renders it or raises.
Field = tuple[str, tuple[type, ...], Callable[[object], object] | None]


def _names(value: object) -> object:
    if type(value) is not list or any(type(item) is not str for item in value):
        raise _NotPlain
    return value


def _entries(fields: tuple[Field, ...]) -> Callable[[object], object]:
    def render(value: object) -> object:
        if type(value) is not list:
            raise _NotPlain
        return [_render(fields, item) for item in value]

    return render


def _field(name: str, hint: object, where: str) -> Field:
    """How a key of this TypedDict type renders; a type without a rule fails at import."""
    nullable: tuple[type, ...] = ()
    if get_origin(hint) in (Union, types.UnionType):
        parts = [arg for arg in get_args(hint) if arg is not type(None)]
        nullable = (type(None),) if len(parts) < len(get_args(hint)) else ()
        hint = parts[0] if len(parts) == 1 else hint
    if hint is str or hint is int:
        return name, (cast(type, hint), *nullable), None
    if hint is float:  # PercentField and SecondsField keep an int an int
        return name, (int, float, *nullable), None
    if get_origin(hint) is list and not nullable:
        (item,) = get_args(hint)
        if item is str:
            return name, (), _names
        if is_typeddict(item):
            return name, (), _entries(_fields(item))
    raise TypeError(f"{where}: no plain rendering for {hint}")


def _fields(typed_dict: type) -> tuple[Field, ...]:
    hints = get_type_hints(typed_dict)
    where = typed_dict.__name__
    return tuple(_field(name, hint, f"{where}.{name}") for name, hint in hints.items())


def _render(fields: tuple[Field, ...], data: object) -> dict[str, object]:
    if type(data) is not dict:
        raise _NotPlain
    rendered: dict[str, object] = {}
    try:
        for name, kinds, render in fields:
            value = data[name]
            if render is not None:
                value = render(value)
            elif type(value) not in kinds:
                raise _NotPlain
            rendered[name] = value
    except KeyError:
        raise _NotPlain from None
    return rendered


BODY_FIELDS: Final = _fields(StatusBody)


def plain_body(data: Mapping[str, object]) -> StatusBody | None:
    """The JSON body of ``body_data``'s result, or None when a value lacks its JSON type.

    For plain values the body is exactly what DRF's fields make of them (the serializer's
    tests hold the two to each other); a missing key, a ``bool`` where a number belongs, a
    ``None`` where the body has no null and the like are left to DRF.
    """
    try:
        return cast(StatusBody, _render(BODY_FIELDS, data))
    except _NotPlain:
        return None
