"""``file_list`` in the status body: the names of the session's files, bounded like ``files``."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from progress_tracking import services
from progress_tracking.body import body_data, plain_body
from progress_tracking.serializers import ProgressStatusSerializer


def status_url(session_id: str) -> str:
    return reverse("progress_tracking:status", kwargs={"session_id": session_id})


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_file_list_names_every_file_in_stored_order_whatever_its_status(api, knowledge):
    sid = services.start_session(knowledge, files=["c.pdf", "a.wav", "b.txt"])
    services.update_file_progress(sid, "b.txt", progress=10, status="error", error="bad")
    services.update_file_progress(sid, "a.wav", progress=40)
    body = api.get(status_url(sid)).json()
    assert body["file_list"] == ["c.pdf", "a.wav", "b.txt"]
    # "files" ranks failures first; "file_list" keeps the order the files were given in.
    assert [f["name"] for f in body["files"]] == ["b.txt", "a.wav", "c.pdf"]


def test_file_list_is_bounded_by_files_limit(api, knowledge, settings):
    names = [f"f{i:03}.wav" for i in range(150)]
    sid = services.start_session(knowledge, files=names)
    body = api.get(status_url(sid)).json()
    assert body["file_list"] == names[:100]
    assert body["files_total"] == 150
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "FILES_LIMIT": 3}
    assert api.get(status_url(sid)).json()["file_list"] == names[:3]


def test_files_joining_a_session_are_listed_after_the_first(api, knowledge):
    sid = services.start_session(knowledge, files=["one.txt"])
    services.start_session(knowledge, files=["two.txt", "one.txt"], join_active=True)
    assert api.get(status_url(sid)).json()["file_list"] == ["one.txt", "two.txt"]


def test_file_list_of_a_session_without_files_and_of_seed_format_progress():
    assert (
        ProgressStatusSerializer({"session_id": None, "status": "processing"}).data["file_list"]
        == []
    )
    seed = {"session_id": None, "status": "processing", "files": "not a list"}
    assert ProgressStatusSerializer(seed).data["file_list"] == []
    odd = {"session_id": None, "status": "processing", "files": [{"name": 7}, "y"]}
    assert ProgressStatusSerializer(odd).data["file_list"] == ["7"]


def test_file_list_keeps_the_fast_rendering_path(knowledge):
    # A stored body, file_list included, renders without DRF's per-field machinery (body.py).
    sid = services.start_session(knowledge, files=["a.txt", "b.txt"])
    rendered = plain_body(body_data(services.get_progress(sid), 100, now=0))
    assert rendered is not None
    assert rendered["file_list"] == ["a.txt", "b.txt"]


def test_the_list_endpoint_has_file_list_too(api, knowledge):
    services.start_session(knowledge, files=["a.txt", "b.txt"])
    (body,) = api.get("/api/v1/progress/").json()["results"]
    assert body["file_list"] == ["a.txt", "b.txt"]
