"""The demo's SQLite configuration (docs/operations.md) is what a connection really gets."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from config.settings import SQLITE_OPTIONS


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the demo runs on SQLite here")
def test_a_file_database_opens_in_wal_with_immediate_transactions(tmp_path):
    assert settings.DATABASES["default"]["OPTIONS"].items() >= SQLITE_OPTIONS.items()
    config = copy.deepcopy(settings.DATABASES["default"])
    config["NAME"] = str(tmp_path / "demo.sqlite3")
    wrapper = DatabaseWrapper(config, alias="demo_check")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20_000
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()
