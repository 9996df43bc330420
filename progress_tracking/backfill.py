"""Index progress that was written in the seed's format, before the indexed columns existed.

Hosts migrating from the original design (progress only inside ``meta``) call
``backfill_progress_columns`` from a data migration of their own model; the app's own
migration 0002 does the same for ``progress_tracking.Knowledge``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from django.db.models import Model, QuerySet

from . import hosts
from .models import FINAL_STATUSES, PROGRESS_KEY, ProgressStatus
from .payload import Progress, seed_defaults


def normalise_seed_progress(
    progress: Mapping[str, Any], *, object_id: str | None = None
) -> Progress | None:
    """The progress dict with this app's extension keys added, or None if it is unusable."""
    try:
        session_id = str(UUID(str(progress["session_id"])))
        last_updated = int(progress["last_updated"])
        updated_at(last_updated)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
    if progress.get("status") not in ProgressStatus.values:
        return None
    final = progress["status"] in FINAL_STATUSES
    # Seed keys a hand-written dict may lack are added (later writes expect every one); what
    # it has is kept as it is.
    normalised = {
        **seed_defaults(),
        **({} if object_id is None else {"object_id": object_id}),
        "started_at": last_updated,
        "finished_at": last_updated if final else None,
        **progress,
        "session_id": session_id,
        "last_updated": last_updated,
    }
    return cast(Progress, normalised)


def updated_at(last_updated: int) -> datetime:
    """The indexed column's value for a ``last_updated`` in Unix seconds."""
    return datetime.fromtimestamp(last_updated, tz=UTC)


def backfill_progress_columns(
    *models: type[Model], using: str = "default", batch_size: int = 500
) -> int:
    """Fill the ``progress_*`` columns of rows whose ``meta`` holds seed-format progress.

    ``models`` may be historical models from ``apps.get_model`` (in a data migration); with
    none, every installed progress model is backfilled. Session ids stay unique across all
    the models given: of two rows claiming one id, the first model's (then the older row)
    keeps it. Rows with unusable progress (no valid UUID, status or timestamp) are left as
    they are. Returns the rows indexed.
    """
    if not models:
        models = tuple(hosts.progress_models())
    seen: set[str] = set()
    for model in models:
        manager = hosts.manager(model, using)
        ids = manager.exclude(progress_session_id=None).values_list(
            "progress_session_id", flat=True
        )
        seen.update(str(v) for v in ids)
    return sum(_backfill(model, seen, using, batch_size) for model in models)


def _backfill(model: type[Model], seen: set[str], using: str, batch_size: int) -> int:
    manager = hosts.manager(model, using)
    pending = manager.filter(progress_session_id=None, meta__has_key=PROGRESS_KEY)
    changed = []
    # In pk order, so that of two rows claiming one session id the older row keeps it.
    # Historical models (apps.get_model) have no static type: their rows' fields are Any.
    rows: QuerySet[Any] = pending.only("pk", "meta").order_by("pk")
    for row in rows.iterator(chunk_size=batch_size):
        raw = row.meta.get(PROGRESS_KEY) if isinstance(row.meta, dict) else None
        progress = (
            normalise_seed_progress(raw, object_id=str(row.pk)) if isinstance(raw, dict) else None
        )
        if progress is None or progress["session_id"] in seen:
            continue
        seen.add(progress["session_id"])
        row.meta = {**row.meta, PROGRESS_KEY: progress}
        row.progress_session_id = UUID(progress["session_id"])
        row.progress_status = progress["status"]
        row.progress_updated_at = updated_at(progress["last_updated"])
        changed.append(row)
    fields = ["meta", "progress_session_id", "progress_status", "progress_updated_at"]
    manager.bulk_update(changed, fields, batch_size=batch_size)
    return len(changed)


def __getattr__(name: str) -> object:
    if name == "SEED_DEFAULTS":  # moved: the defaults are defined once, in payload
        warnings.warn(
            "progress_tracking.backfill.SEED_DEFAULTS is deprecated; use "
            "progress_tracking.payload.seed_defaults().",
            DeprecationWarning,
            stacklevel=2,
        )
        return seed_defaults()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
