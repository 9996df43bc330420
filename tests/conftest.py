from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def make_knowledge(db):
    """Create a row of the configured progress model (owner optional)."""
    from progress_tracking.models import get_progress_model

    model = get_progress_model()

    def make(owner=None, **kwargs):
        values = {"name": "Test base"} if hasattr(model, "name") else {}
        values.update(kwargs)
        if owner is not None:
            from progress_tracking.conf import app_settings

            values[app_settings.OWNER_FIELD] = owner
        return model.objects.create(**values)

    return make


@pytest.fixture
def knowledge(make_knowledge, user):
    return make_knowledge(owner=user)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The default hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def close_progress_side_connections():
    # Reused side connections outlive a test; close them so the test database can be dropped.
    yield
    from progress_tracking.side_connection import close_side_connections

    close_side_connections()


@pytest.fixture(autouse=True, scope="session")
def no_automatic_cleanup_in_subprocesses():
    """Worker and server processes that tests start sweep only when a test asks them to."""
    before = os.environ.get("PROGRESS_AUTO_CLEANUP")
    os.environ["PROGRESS_AUTO_CLEANUP"] = "false"
    yield
    if before is None:
        os.environ.pop("PROGRESS_AUTO_CLEANUP", None)
    else:
        os.environ["PROGRESS_AUTO_CLEANUP"] = before


@pytest.fixture(autouse=True)
def no_automatic_cleanup(monkeypatch):
    """Keep the sweep thread out of tests: its own tests (test_sweeper.py) open the gate."""
    from progress_tracking import sweeper

    monkeypatch.setattr(sweeper, "_next_look", float("inf"))


# A second alias of the test database (a test mirror of "default"), for tests that need to
# tell which connection was used. Mark them
# ``@pytest.mark.django_db(transaction=True, databases=["default", WRITE_ALIAS])``.
WRITE_ALIAS = "progress_writes"


@pytest.fixture(scope="module")
def write_alias_configured(django_db_setup, django_db_blocker):
    # Module scope: the alias must exist before the test's database set-up checks its aliases.
    from django.db import connections

    primary = connections["default"].settings_dict
    connections.settings[WRITE_ALIAS] = {
        **primary,
        "TEST": {**primary.get("TEST", {}), "MIRROR": "default"},
    }
    yield WRITE_ALIAS
    with django_db_blocker.unblock():
        connections[WRITE_ALIAS].close()
    del connections.settings[WRITE_ALIAS]


@pytest.fixture
def write_alias(write_alias_configured, settings):
    """``write_alias(*models)`` routes the writes of ``models`` to ``WRITE_ALIAS`` and
    returns it. Both aliases reach the same database; what differs is the connection each
    thread opens for each alias."""
    routed: set[type] = set()

    class WriteRouter:
        def db_for_write(self, model, **hints):
            return WRITE_ALIAS if model in routed else None

    settings.DATABASE_ROUTERS = [WriteRouter()]

    def route(*models):
        routed.update(models)
        return WRITE_ALIAS

    return route


@pytest.fixture
def write(django_capture_on_commit_callbacks):
    """Run a service call and its after-commit work, as outside a test transaction."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run
