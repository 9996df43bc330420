"""Finding a session and sweeping stale ones use an index, whatever the number of rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from progress_tracking import services
from progress_tracking.models import PROGRESS_KEY, get_progress_model

ROWS = 10_000


@pytest.fixture
def many_rows(db):
    """10,000 rows: most without progress, some processing, some finished, a few stale."""
    model = get_progress_model()
    named = any(f.name == "name" for f in model._meta.fields)
    now = timezone.now()
    rows = []
    for i in range(ROWS):
        row = model(meta={"host": i}, **({"name": f"kb {i}"} if named else {}))
        if i % 10 == 0:
            sid = uuid.uuid4()
            stale = i % 1000 == 0
            updated = now - timedelta(hours=1) if stale else now
            status = "completed" if i % 20 == 0 else "processing"
            row.meta[PROGRESS_KEY] = {"session_id": str(sid), "status": status}
            row.progress_session_id, row.progress_status = sid, status
            row.progress_updated_at = updated
        rows.append(row)
    model.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return model


def query_plan(sql: str, params) -> str:
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def captured_plans(action):
    """Run ``action`` and return the query plan of every SELECT it made on the table."""
    table = get_progress_model()._meta.db_table
    # Keep the SQL and parameters the cursor really ran, not Django's display string.
    executed = []
    original = connection.ops.last_executed_query

    def remember(cursor, sql, params):
        executed.append((sql, params))
        return original(cursor, sql, params)

    connection.ops.last_executed_query = remember
    try:
        with CaptureQueriesContext(connection):
            action()
    finally:
        del connection.ops.last_executed_query
    selects = [
        (s, p) for s, p in executed if s.lstrip().upper().startswith("SELECT") and table in s
    ]
    assert selects, "the action made no SELECT on the progress table"
    return [query_plan(sql, params) for sql, params in selects]


def assert_indexed(plan: str) -> None:
    table = get_progress_model()._meta.db_table
    if connection.vendor == "sqlite":
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        assert f"SCAN {table}" not in plan, plan
    else:
        assert "Index" in plan, plan
        assert "Seq Scan" not in plan, plan


def test_get_progress_finds_a_session_through_an_index(many_rows):
    session = many_rows.objects.exclude(progress_session_id=None).last().progress_session_id
    plans = captured_plans(lambda: services.get_progress(session))
    assert len(plans) == 1
    assert_indexed(plans[0])
    print(f"\n{connection.vendor} get_progress plan:\n{plans[0]}")


def test_writers_find_the_session_through_an_index(many_rows):
    knowledge = many_rows.objects.filter(progress_status="processing").last()
    plans = captured_plans(lambda: services.heartbeat(knowledge.progress_session_id))
    for plan in plans:
        assert_indexed(plan)


def test_stale_sweep_uses_the_updated_at_index(many_rows):
    plans = captured_plans(lambda: services.cleanup_stale_progress(dry_run=True))
    plans += captured_plans(lambda: services.cleanup_stale_progress(batch_size=3))
    for plan in plans:
        assert_indexed(plan)
    print(f"\n{connection.vendor} stale sweep plan:\n{plans[0]}")
    hour_ago = timezone.now() - timedelta(minutes=30)
    assert many_rows.objects.filter(progress_updated_at__lt=hour_ago).count() == 0
