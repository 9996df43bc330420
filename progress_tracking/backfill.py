"""Index progress that was written in the seed's format, before the indexed columns existed.

Hosts migrating from the original design (progress only inside ``meta``) call
``backfill_progress_columns`` from a data migration of their own model; the app's own
migration 0002 does the same for ``progress_tracking.Knowledge``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from . import hosts
from .models import FINAL_STATUSES, PROGRESS_KEY, ProgressStatus

SEED_DEFAULTS: dict[str, Any] = {
    # Seed keys a hand-written dict may lack; later writes expect every one of them.
    "total_files": 0,
    "processed_files": 0,
    "current_file": None,
    "progress": 0,
    "message": "",
    "error": None,
    "failed_files": 0,
    "files": [],
    "version": 1,
}


def normalise_seed_progress(
    progress: dict[str, Any], *, object_id: str | None = None
) -> dict[str, Any] | None:
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
    return {
        **SEED_DEFAULTS,
        **({} if object_id is None else {"object_id": object_id}),
        "started_at": last_updated,
        "finished_at": last_updated if final else None,
        **progress,
        "session_id": session_id,
        "last_updated": last_updated,
    }


def updated_at(last_updated: int) -> datetime:
    """The indexed column's value for a ``last_updated`` in Unix seconds."""
    return datetime.fromtimestamp(last_updated, tz=UTC)


def backfill_progress_columns(*models: Any, using: str = "default", batch_size: int = 500) -> int:
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


def _backfill(model: Any, seen: set[str], using: str, batch_size: int) -> int:
    manager = hosts.manager(model, using)
    pending = manager.filter(progress_session_id=None, meta__has_key=PROGRESS_KEY)
    changed = []
    # In pk order, so that of two rows claiming one session id the older row keeps it.
    rows = pending.only("pk", "meta").order_by("pk")
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
