"""Hostile input at the service edge: one exception type, the same rule on every database,
and reads that survive text older releases let SQLite store."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template import Context, Template
from django.urls import reverse
from rest_framework.test import APIClient

from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData, SessionNotFound
from progress_tracking.models import PROGRESS_KEY, get_progress_model
from progress_tracking.recorder import ProgressRecorder


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("__str__ failed")


def deep(levels):
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


DEEP = deep(100_000)


@pytest.fixture
def session(knowledge):
    return services.start_session(knowledge, files=["a.txt"])


REFUSED = {
    "name with a lone surrogate": lambda s, k: services.update_file_progress(
        s, "\ud800.txt", progress=1
    ),
    "name with NUL": lambda s, k: services.update_file_progress(s, "a\x00.txt", progress=1),
    "current_file with NUL": lambda s, k: services.update_progress(s, current_file="a\x00"),
    "announced name with a surrogate": lambda s, k: services.start_session(
        k, files=["ok.txt", "\udfff"], join_active=True
    ),
    "progress=10**400": lambda s, k: services.update_progress(s, progress=10**400),
    "file progress=10**400": lambda s, k: services.update_file_progress(
        s, "a.txt", progress=10**400
    ),
    "progress too long to print": lambda s, k: services.update_progress(s, progress=10**5000),
    "files=None": lambda s, k: services.start_session(k, files=None, join_active=True),
    "files=5": lambda s, k: services.start_session(k, files=5, join_active=True),
    "a deep dict as a file name": lambda s, k: services.start_session(
        k, files=[DEEP], join_active=True
    ),
    "a deep dict as message": lambda s, k: services.update_progress(s, message=DEEP),
    "a deep dict as file status": lambda s, k: services.update_file_progress(
        s, "a.txt", progress=1, status=DEEP
    ),
    "a deep dict as session status": lambda s, k: services.update_progress(s, status=DEEP),
    "total_files=10**30": lambda s, k: services.update_progress(s, total_files=10**30),
    "start with total_files=10**30": lambda s, k: services.start_session(
        k, total_files=10**30, join_active=True
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_input_raises_invalid_progress_data_and_writes_nothing(case, session, knowledge):
    before = services.get_progress(session)
    with pytest.raises(InvalidProgressData):
        REFUSED[case](session, knowledge)
    assert services.get_progress(session) == before


def test_an_unknown_id_of_any_kind_is_session_not_found(session):
    for odd in (DEEP, UnprintableError(), 10**5000, b"\xff"):
        with pytest.raises(SessionNotFound):
            services.update_progress(odd, progress=1)


REPLACED = {
    "message": (lambda s: services.update_progress(s, message="boom\x00"), "message"),
    "message surrogate": (lambda s: services.update_progress(s, message="x\udfff"), "message"),
    "file message": (
        lambda s: services.update_file_progress(s, "a.txt", progress=1, message="p\x00"),
        "message",
    ),
    "completion message": (
        lambda s: (
            services.update_file_progress(s, "a.txt", progress=100, status="completed"),
            services.mark_session_complete(s, "done\ud800"),
        ),
        "message",
    ),
    "error": (lambda s: services.mark_session_error(s, "boom\x00"), "error"),
    "error surrogate": (lambda s: services.mark_session_error(s, "\udcffboom"), "error"),
}


@pytest.mark.parametrize("case", list(REPLACED))
def test_unstorable_characters_in_messages_and_errors_are_replaced(case, session):
    write, key = REPLACED[case]
    write(session)
    stored = services.get_progress(session)[key]
    assert "\ufffd" in stored
    assert "\x00" not in stored and stored.encode("utf-8")


@pytest.mark.parametrize(
    "error",
    [UnprintableError(), DEEP, "x\x00" * 2000, None, ""],
    ids=["__str__ raises", "deep dict", "long with NUL", "None", "empty"],
)
def test_a_failure_is_always_recordable(session, error):
    stored = services.mark_session_error(session, error)
    assert stored["status"] == "error"
    assert stored["error"] and len(stored["error"]) <= 1000 and "\x00" not in stored["error"]
    assert services.get_progress(session)["status"] == "error"


def test_a_file_error_with_unreadable_text_is_recorded(session):
    services.update_file_progress(
        session, "a.txt", progress=0, status="error", error=UnprintableError()
    )
    entry = services.get_progress(session)["files"][0]
    assert entry["status"] == "error"
    assert entry["error"] == "UnprintableError (its text could not be read)"


def test_the_recorder_records_a_failure_whose_text_has_nul(session):
    with pytest.raises(ValueError), ProgressRecorder(session, heartbeat_interval=60):
        raise ValueError("broken\x00 input")
    stored = services.get_progress(session)
    assert stored["status"] == "error" and stored["error"] == "broken\ufffd input"


# -- limits ------------------------------------------------------------------------------


def test_files_per_session_are_limited(knowledge, settings):
    settings.PROGRESS_TRACKING = {"MAX_FILES_PER_SESSION": 3}
    with pytest.raises(InvalidProgressData, match="at most 3 files"):
        services.start_session(knowledge, files=["1", "2", "3", "4"])
    sid = services.start_session(knowledge, files=["1", "2"])
    services.update_file_progress(sid, "3", progress=1)
    with pytest.raises(InvalidProgressData, match="MAX_FILES_PER_SESSION"):
        services.update_file_progress(sid, "4", progress=1)
    with pytest.raises(InvalidProgressData):
        services.start_session(knowledge, files=["5"], join_active=True)
    services.update_file_progress(sid, "3", progress=50)  # a known file: still fine
    assert len(services.get_progress(sid)["files"]) == 3


def test_total_files_is_limited(knowledge, settings):
    settings.PROGRESS_TRACKING = {"MAX_TOTAL_FILES": 10}
    sid = services.start_session(knowledge, total_files=10)
    with pytest.raises(InvalidProgressData, match="the limit is 10"):
        services.update_progress(sid, total_files=11)
    with pytest.raises(InvalidProgressData):
        services.start_session(knowledge, total_files=11)


# -- reads of text written before validation -----------------------------------------------


def plant(session_id, **changes):
    """Write a session's dict directly, as an older release could have done on SQLite."""
    model = get_progress_model()
    row = model._base_manager.get(progress_session_id=session_id)
    progress = row.meta[PROGRESS_KEY]
    progress.update(changes)
    model._base_manager.filter(pk=row.pk).update(meta={**row.meta, PROGRESS_KEY: progress})


sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="only SQLite ever stored lone surrogates"
)


@pytest.fixture
def bad_text_session(session):
    plant(
        session,
        message="m\ud800",
        current_file="\udfff.txt",
        files=[
            {
                "name": "\ud800.txt",
                "status": "error",
                "progress": 5,
                "message": "",
                "error": "e\udc00",
            }
        ],
        version=None,  # so the ETag is computed from the stored dict too
    )
    return session


@sqlite_only
def test_status_and_list_answer_200_with_replaced_text(bad_text_session, user):
    client = APIClient()
    client.force_authenticate(user)
    status = client.get(reverse("progress_tracking:status", args=[bad_text_session]))
    assert status.status_code == 200
    body = status.json()
    assert body["message"] == "m\ufffd" and body["files"][0]["name"] == "\ufffd.txt"
    listed = client.get(reverse("progress_tracking:list"))
    assert listed.status_code == 200
    assert listed.json()["results"][0]["current_file"] == "\ufffd.txt"


@sqlite_only
def test_get_progress_and_the_template_tag_replace_bad_text(bad_text_session):
    assert services.get_progress(bad_text_session)["files"][0]["error"] == "e\ufffd"
    html = Template("{% load progress_tracking %}{% progress_bar sid %}").render(
        Context({"sid": bad_text_session})
    )
    assert "\ufffd.txt" in html
    html.encode("utf-8")  # what the response does; it raised UnicodeEncodeError before
    given = {"status": "processing", "message": "x\ud800", "files": []}
    Template("{% load progress_tracking %}{% progress_bar sid status=s %}").render(
        Context({"sid": bad_text_session, "s": given})
    ).encode("utf-8")
