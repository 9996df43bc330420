"""Every private Django internal that ``progress_tracking.compat`` wraps, one test each.

A failure here means the Django version under test changed an internal the app relies on:
the message names the internal, the compat function and the Django version, and the fix
belongs in ``progress_tracking/compat.py`` alone.
"""

from __future__ import annotations

from contextlib import contextmanager

import django
import pytest
from django.db import connection, connections, transaction
from django.db.utils import ConnectionHandler

from progress_tracking import compat
from progress_tracking.models import get_progress_model


def changed(internal: str, function: str, detail: object) -> str:
    return (
        f"Django {django.get_version()} changed {internal}, which "
        f"progress_tracking.compat.{function}() relies on ({detail}). "
        "Adapt compat.py to this version."
    )


@contextmanager
def relying_on(internal: str, function: str):
    """Turn any error raised inside into a failure that names the internal."""
    try:
        yield
    except Exception as exc:
        pytest.fail(changed(internal, function, repr(exc)), pytrace=False)


def test_select_rows_and_update_rows_run_on_a_connection_object(make_knowledge):
    row = make_knowledge()
    rows = get_progress_model()._base_manager.filter(pk=row.pk)
    with relying_on(
        "Query.chain(UpdateQuery) / SQLUpdateCompiler.execute_sql(ROW_COUNT)", "update_rows"
    ):
        matched = compat.update_rows(rows, {"progress_status": "processing"}, connection)
    assert matched == 1, changed("ROW_COUNT", "update_rows", f"returned {matched!r}")
    with relying_on("Query.get_compiler(connection=...).results_iter()", "select_rows"):
        found = compat.select_rows(rows, ("pk", "progress_status"), connection)
    assert found == [(row.pk, "processing")], changed("results_iter", "select_rows", found)


@pytest.mark.django_db
def test_caller_atomic_blocks_leave_out_the_blocks_a_testcase_opened():
    assert connection.in_atomic_block, "pytest-django runs this test inside TestCase atomics"
    with relying_on("BaseDatabaseWrapper.atomic_blocks", "caller_atomic_blocks"):
        outside = compat.caller_atomic_blocks(connection)
    assert outside == [], changed("Atomic._from_testcase", "caller_atomic_blocks", outside)
    outer, inner = transaction.atomic(), transaction.atomic()
    with outer, inner:
        found = compat.caller_atomic_blocks(connection)
    assert found == [outer, inner], changed(
        "BaseDatabaseWrapper.atomic_blocks", "caller_atomic_blocks", found
    )


def test_sqlite_transaction_mode_begins_the_next_transaction_with_it(django_db_blocker):
    # A connection of its own, whatever database the suite runs on; not yet connected, so
    # the function must connect before it swaps the mode read from OPTIONS.
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )
    sqlite = handler["default"]
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with django_db_blocker.unblock(), sqlite.execute_wrapper(record):
        try:
            with relying_on("sqlite3 DatabaseWrapper.transaction_mode", "sqlite_transaction_mode"):
                with compat.sqlite_transaction_mode(sqlite, "IMMEDIATE"):
                    # What transaction.atomic() does to open the outermost transaction.
                    sqlite.set_autocommit(
                        False, force_begin_transaction_with_broken_autocommit=True
                    )
                    sqlite.rollback()
                    sqlite.set_autocommit(True)
                restored = sqlite.transaction_mode
        finally:
            sqlite.close()
    begins = [sql for sql in statements if sql.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"], changed(
        "sqlite3 DatabaseWrapper.transaction_mode", "sqlite_transaction_mode", begins
    )
    assert restored is None, changed(
        "sqlite3 DatabaseWrapper.transaction_mode", "sqlite_transaction_mode", restored
    )


@pytest.mark.django_db
def test_new_connection_is_a_second_working_connection():
    with relying_on("ConnectionHandler.create_connection", "new_connection"):
        side = compat.new_connection("default")
    try:
        assert side is not connections["default"]
        assert side.alias == "default"
        assert side.settings_dict["NAME"] == connection.settings_dict["NAME"]
        with side.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        side.close()


def test_redis_cache_builds_its_client_from_the_class_given():
    pytest.importorskip("redis")
    from progress_tracking.redis_cache import RedisCache, ReusingRedisCacheClient

    cache = RedisCache("redis://127.0.0.1:6379/13", {})
    with relying_on("RedisCache._class / RedisCache._cache", "use_redis_client_class"):
        client = cache._cache
    assert isinstance(client, ReusingRedisCacheClient), changed(
        "RedisCache._class", "use_redis_client_class", type(client)
    )


def test_redis_connection_pool_picks_the_pool_of_each_call():
    redis = pytest.importorskip("redis")
    from django.core.cache.backends.redis import RedisCacheClient

    # Writes go to the first server, reads to the others (no connection is opened here).
    client = RedisCacheClient(["redis://127.0.0.1:6379/13", "redis://127.0.0.1:6379/12"])
    with relying_on("RedisCacheClient._get_connection_pool", "redis_connection_pool"):
        write_pool = compat.redis_connection_pool(client, True)
        read_pool = compat.redis_connection_pool(client, False)
    assert isinstance(write_pool, redis.ConnectionPool), changed(
        "RedisCacheClient._get_connection_pool", "redis_connection_pool", type(write_pool)
    )
    assert compat.redis_connection_pool(client, True) is write_pool, changed(
        "RedisCacheClient._get_connection_pool", "redis_connection_pool", "a new pool per call"
    )
    dbs = (write_pool.connection_kwargs.get("db"), read_pool.connection_kwargs.get("db"))
    assert dbs == (13, 12), changed(
        "RedisCacheClient._get_connection_pool", "redis_connection_pool", f"databases {dbs}"
    )
