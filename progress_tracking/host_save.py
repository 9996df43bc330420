"""A host's own ``save()`` of a progress row never touches progress.

Hosts load a row, let a worker report progress for a while, then ``save()`` their (older)
instance: a plain save would write back the progress they loaded, undoing the worker's writes
or reviving a session cleanup removed. ``AbstractProgressModel.save()`` goes through
``protected_save`` instead, which on an UPDATE:

- leaves the ``progress_*`` columns out of the statement, and
- writes ``meta`` as the host's new dict with the progress key taken from the stored row,
  computed by the database inside the UPDATE itself (``KeepStoredProgress``), so a progress
  write that commits between the host's read and its save is kept, with no extra query and no
  lock held between two statements.

Inserts are left alone: a new row has no stored progress to keep. An instance whose row was
deleted meanwhile is not inserted again: its save raises ``DatabaseError``, as a save with
``update_fields`` always has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import F, Func, JSONField, Value

PROGRESS_KEY = "processing_progress"
PROGRESS_COLUMNS = ("progress_session_id", "progress_status", "progress_updated_at")
SAVE_ARGUMENTS = ("force_insert", "force_update", "using", "update_fields")


class KeepStoredProgress(Func):
    """The host's new ``meta`` with the progress key as the stored row has it (or without)."""

    output_field = JSONField()

    def __init__(self, new_meta: dict[str, Any]) -> None:
        super().__init__(Value(new_meta, output_field=JSONField()), F("meta"))

    def _parts(self, compiler: Any) -> tuple[str, list[Any], str, list[Any]]:
        new_expression, stored_expression = self.get_source_expressions()
        new_sql, new_params = compiler.compile(new_expression)
        stored_sql, stored_params = compiler.compile(stored_expression)
        return new_sql, list(new_params), stored_sql, list(stored_params)

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # SQLite (and MySQL-like spellings): json() keeps the stored value JSON, not text.
        new, new_p, stored, stored_p = self._parts(compiler)
        path = f"'$.{PROGRESS_KEY}'"
        sql = (
            f"CASE WHEN json_type({stored}, {path}) IS NOT NULL "
            f"THEN json_set({new}, {path}, json(json_extract({stored}, {path}))) "
            f"ELSE json_remove({new}, {path}) END"
        )
        return sql, (*stored_p, *new_p, *stored_p, *new_p)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        new, new_p, stored, stored_p = self._parts(compiler)
        sql = (
            f"CASE WHEN jsonb_exists({stored}, '{PROGRESS_KEY}') "
            f"THEN jsonb_set({new}, '{{{PROGRESS_KEY}}}', {stored} -> '{PROGRESS_KEY}') "
            f"ELSE ({new} - '{PROGRESS_KEY}') END"
        )
        return sql, (*stored_p, *new_p, *stored_p, *new_p)


def save_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``save()``'s arguments as keywords (Django 5.2 still accepts them positionally)."""
    if len(args) > len(SAVE_ARGUMENTS):
        raise TypeError(f"save() takes at most {len(SAVE_ARGUMENTS)} positional arguments.")
    named = dict(zip(SAVE_ARGUMENTS, args, strict=False))
    clash = set(named) & set(kwargs)
    if clash:
        raise TypeError(f"save() got multiple values for {', '.join(sorted(clash))}.")
    return {**named, **kwargs}


def protected_save(instance: Any, save: Callable[..., None], options: dict[str, Any]) -> None:
    """Run the model's ``save(**options)`` so that an UPDATE keeps the stored progress."""
    if instance._state.adding or options.get("force_insert"):
        save(**options)
        return
    update_fields = options.get("update_fields")
    if update_fields is not None:
        fields = [name for name in update_fields if name not in PROGRESS_COLUMNS]
        if not fields:
            return  # nothing of the host's to write
        options = {**options, "update_fields": fields}
        writes_meta = "meta" in fields
    else:
        deferred = instance.get_deferred_fields()
        writes_meta = "meta" not in deferred
        loaded = [
            f.attname
            for f in instance._meta.get_fields()
            if f.concrete and not f.primary_key and f.attname not in deferred
        ]
        options = {
            **options,
            "update_fields": [name for name in loaded if name not in PROGRESS_COLUMNS],
        }
    if not writes_meta:
        save(**options)
        return
    meta = instance.meta
    if not isinstance(meta, dict):
        from .exceptions import InvalidProgressData

        raise InvalidProgressData(
            f"meta must stay a dict on a progress row, not a {type(meta).__name__}."
        )
    try:
        instance.meta = KeepStoredProgress(meta)
        # A row deleted meanwhile is not inserted again (Django raises DatabaseError): its
        # progress belonged to the deleted row.
        save(**options)
    finally:
        instance.meta = meta
