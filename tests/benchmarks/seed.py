"""Bulk rows for the scale and cleanup scenarios: PostgreSQL ``COPY``, tens of thousands a second.

Each row looks like one the services wrote: ``meta["processing_progress"]`` with per-file
entries, a host key beside it, and the indexed ``progress_*`` columns filled in.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

COLUMNS = (
    "name",
    "description",
    "user_id",
    "created_at",
    "updated_at",
    "meta",
    "progress_session_id",
    "progress_status",
    "progress_updated_at",
)
FILES_PER_ROW = 3


def progress_dict(session_id: str, object_id: int, status: str, at: datetime) -> dict:
    ts = int(at.timestamp())
    final = status != "processing"
    files = [
        {
            "name": f"document-{i}.pdf",
            "status": "completed" if final or i == 0 else ("processing" if i == 1 else "pending"),
            "progress": 100 if final or i == 0 else (40 if i == 1 else 0),
            "message": "Extracting text" if i == 1 else "",
            "error": None,
        }
        for i in range(FILES_PER_ROW)
    ]
    done = sum(1 for f in files if f["status"] == "completed")
    return {
        "session_id": session_id,
        "object_id": str(object_id),
        "status": status,
        "total_files": FILES_PER_ROW,
        "processed_files": done,
        "current_file": "document-1.pdf",
        "progress": 100 if final else round((100 * done + 40) / FILES_PER_ROW, 1),
        "message": "Processing completed." if final else "Extracting text",
        "last_updated": ts,
        "error": None,
        "started_at": ts - 60,
        "finished_at": ts if final else None,
        "failed_files": 0,
        "files": files,
        "version": 7,
    }


def seed_rows(
    database_url: str,
    count: int,
    *,
    table: str,
    now: datetime,
    stale: int = 0,
    empty: int = 0,
    stale_age: timedelta = timedelta(days=7),
) -> dict[str, int]:
    """Append ``count`` rows: ``stale`` with old progress, ``empty`` without, the rest live.

    Stale rows alternate between ``processing`` and ``completed``; live ones are processing,
    updated within the last minute. Runs VACUUM ANALYZE afterwards.
    """
    import psycopg

    live = count - stale - empty
    assert live >= 0
    with psycopg.connect(database_url) as conn:
        start = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for i in range(count):
                object_id = start + i + 1  # ids follow the sequence while nothing else inserts
                if i < stale:
                    status = "processing" if i % 2 else "completed"
                    at = now - stale_age - timedelta(seconds=i % 3600)
                elif i < stale + empty:
                    copy.write_row((f"bench {i}", "", None, now, now, "{}", None, "", None))
                    continue
                else:
                    status = "processing"
                    at = now - timedelta(seconds=i % 60)
                sid = str(uuid.uuid4())
                meta = {
                    "source": "benchmark",
                    "processing_progress": progress_dict(sid, object_id, status, at),
                }
                copy.write_row((f"bench {i}", "", None, at, at, json.dumps(meta), sid, status, at))
    # Settle the table as a long-lived one is: hint bits set, visibility map and statistics
    # up to date, so no autovacuum starts in the middle of a measurement.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {table}")
    return {"live": live, "stale": stale, "empty": empty}
