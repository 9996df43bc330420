"""The API answers JSON 503 with Retry-After while the database is unreachable."""

from __future__ import annotations

import socket
import uuid

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from rest_framework.test import APIClient

from progress_tracking import selectors, services
from progress_tracking.views import RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def fail(*args, **kwargs):
    raise OperationalError("could not connect to server: Connection refused")


def assert_unavailable(response):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": str(UNAVAILABLE_DETAIL)}
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "no-cache" in response["Cache-Control"]


def test_status(api, monkeypatch):
    monkeypatch.setattr(selectors, "session_for_api", fail)
    assert_unavailable(api.get(reverse("progress_tracking:status", args=[uuid.uuid4()])))


def test_list(api, monkeypatch):
    monkeypatch.setattr(selectors, "running_progress_for", fail)
    assert_unavailable(api.get(reverse("progress_tracking:list")))


def test_delete(api, knowledge, monkeypatch):
    sid = services.start_session(knowledge)

    def closed(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr(services, "clear_progress", closed)
    assert_unavailable(api.delete(reverse("progress_tracking:detail", args=[sid])))


def test_other_errors_are_not_hidden(api, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(selectors, "session_for_api", broken)
    with pytest.raises(ZeroDivisionError):
        api.get(reverse("progress_tracking:status", args=[uuid.uuid4()]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_real_refused_connection(api):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings_dict = connection.settings_dict
    saved = settings_dict["PORT"], settings_dict["HOST"]
    connection.close()
    settings_dict["PORT"], settings_dict["HOST"] = port, "127.0.0.1"
    try:
        for url in (
            reverse("progress_tracking:status", args=[uuid.uuid4()]),
            reverse("progress_tracking:list"),
        ):
            assert_unavailable(api.get(url))
        assert_unavailable(api.delete(reverse("progress_tracking:detail", args=[uuid.uuid4()])))
    finally:
        connection.close()
        settings_dict["PORT"], settings_dict["HOST"] = saved
