"""The polling REST API: status, conditional polls, delete, legacy SSE URL, list."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.urls import resolve, reverse
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.authentication import BasicAuthentication
from rest_framework.test import APIClient

from progress_tracking import hosts, services
from progress_tracking.models import PROGRESS_KEY, get_progress_model
from progress_tracking.selectors import LIST_LIMIT
from progress_tracking.views import (
    CLEARED_MESSAGE,
    LEGACY_DETAIL,
    NOT_FOUND_DETAIL,
    SSE_DEPRECATED_AT,
    format_seconds,
)

SEED_FIELDS = {
    "session_id",
    "status",
    "progress",
    "message",
    "total_files",
    "processed_files",
    "current_file",
    "last_updated",
}
EXTENSION_FIELDS = {
    "error",
    "failed_files",
    "files",
    "files_total",
    "file_list",
    "started_at",
    "finished_at",
    "version",
    "object_id",
    "elapsed_seconds",
    "eta_seconds",
}
WEIRD_IDS = [
    "not-a-uuid",
    "x" * 5000,
    "été-日本語-🙂",
    "\x00",
    "%00",
    " ",
    "a/b",
    "../..",
    "12345678-1234-5678-1234-56781234567",  # one digit short
    "{12345678-1234-5678-1234-567812345678",
    "null",
    "\n",
    "?x=1#y",
]


def status_url(session_id: str) -> str:
    return reverse("progress_tracking:status", kwargs={"session_id": session_id})


def detail_url(session_id: str) -> str:
    return reverse("progress_tracking:detail", kwargs={"session_id": session_id})


LIST_URL = "/api/v1/progress/"


def client_for(user=None, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def session_id(knowledge):
    sid = services.start_session(knowledge, files=["a.pdf", "b.mp3"], message="Queued")
    services.update_file_progress(sid, "a.pdf", progress=40, message="Reading a.pdf")
    return sid


def override(settings, **values):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, **values}


def store_raw_progress(row, progress: dict, *, host_keys: dict | None = None) -> None:
    """Put progress written by other code (e.g. the seed's) on a row, indexed."""
    get_progress_model().objects.filter(pk=row.pk).update(
        meta={**(host_keys or {}), PROGRESS_KEY: progress},
        progress_session_id=uuid.UUID(progress["session_id"]),
        progress_status=progress["status"],
        progress_updated_at=timezone.now(),
    )


def assert_json_404(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert (
        response.content
        == json.dumps({"detail": str(NOT_FOUND_DETAIL)}, separators=(",", ":")).encode()
    )


# --- GET {id}/status ---------------------------------------------------------------------


def test_status_body_has_seed_fields_and_extensions(api, session_id):
    response = api.get(status_url(session_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == SEED_FIELDS | EXTENSION_FIELDS
    stored = services.get_progress(session_id)
    assert {k: body[k] for k in SEED_FIELDS} == {k: stored[k] for k in SEED_FIELDS}
    assert body["status"] == "processing"
    assert body["message"] == "Reading a.pdf"
    assert body["current_file"] == "a.pdf"
    assert body["error"] is None
    assert body["files_total"] == 2
    assert [f["name"] for f in body["files"]] == ["a.pdf", "b.mp3"]
    assert set(body["files"][0]) == {"name", "status", "progress", "message", "error"}
    assert body["version"] == stored["version"]
    assert isinstance(body["last_updated"], int)


def test_status_of_failed_session_has_error_text(api, session_id):
    services.mark_session_error(session_id, "Disk full")

    body = api.get(status_url(session_id)).json()

    assert body["status"] == "error"
    assert body["error"] == "Disk full"
    assert body["finished_at"] is not None


def test_status_keeps_integer_progress_an_integer(api, knowledge):
    sid = services.start_session(knowledge, total_files=4)
    services.update_progress(sid, progress=50)
    assert api.get(status_url(sid)).content.count(b'"progress":50,') == 1
    services.update_progress(sid, progress=62.5)
    assert api.get(status_url(sid)).json()["progress"] == 62.5


def test_status_of_seed_format_progress_gets_defaults(api, knowledge):
    sid = str(uuid.uuid4())
    seed = {
        "session_id": sid,
        "status": "processing",
        "total_files": 1,
        "processed_files": 0,
        "current_file": "example.pdf",
        "progress": 50,
        "message": "Processing file content",
        "last_updated": int(time.time()),
        "error": None,
    }
    store_raw_progress(knowledge, seed, host_keys={"owner_note": "keep"})

    body = api.get(status_url(sid)).json()

    assert {k: body[k] for k in seed} == seed
    assert body["files"] == []
    assert body["files_total"] == 0
    assert body["failed_files"] == 0
    assert body["version"] == 0
    assert body["started_at"] is None and body["finished_at"] is None


def test_status_headers_forbid_caching_and_advise_interval(api, session_id):
    response = api.get(status_url(session_id))

    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "private", "must-revalidate"} <= cache_control
    assert response["X-Poll-Interval"] == "1"
    assert re.fullmatch(r'"[0-9]+-[0-9a-f]{32}"', response["ETag"])


@pytest.mark.parametrize(
    ("interval", "header"), [(2, "2"), (1.0, "1"), (0.5, "0.5"), (2.25, "2.25"), (0.001, "0.001")]
)
def test_poll_interval_header_follows_setting(api, session_id, settings, interval, header):
    override(settings, POLL_INTERVAL=interval)

    assert api.get(status_url(session_id))["X-Poll-Interval"] == header
    assert api.get(status_url(str(uuid.uuid4())))["X-Poll-Interval"] == header
    assert api.get(LIST_URL)["X-Poll-Interval"] == header


def test_format_seconds():
    assert format_seconds(3) == "3"
    assert format_seconds(3.0) == "3"
    assert format_seconds(1.5) == "1.5"


# --- conditional polls ---------------------------------------------------------------------


def test_matching_if_none_match_answers_304_without_body(api, session_id):
    first = api.get(status_url(session_id))
    etag = first["ETag"]

    again = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["X-Poll-Interval"] == "1"
    assert "no-store" in again["Cache-Control"]
    assert "Content-Type" not in again


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"other", {etag}',
        '"a",W/{etag} , "b"',
        "*",
        " * ",
    ],
)
def test_if_none_match_forms(api, session_id, header):
    etag = api.get(status_url(session_id))["ETag"]

    response = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=header.format(etag=etag))

    assert response.status_code == 304


@pytest.mark.parametrize(
    "header", ["", '"nope"', "garbage", "W/", '"unterminated', '*, "nope"', '""', "\x7f\xff"]
)
def test_if_none_match_that_does_not_match_answers_200(api, session_id, header):
    etag = api.get(status_url(session_id))["ETag"]

    response = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=header.format(etag=etag))

    assert response.status_code == 200
    assert response["ETag"] == etag


def test_etag_changes_with_every_write(api, session_id):
    seen = {api.get(status_url(session_id))["ETag"]}
    services.update_file_progress(session_id, "a.pdf", progress=41)
    seen.add(api.get(status_url(session_id))["ETag"])
    services.heartbeat(session_id)
    seen.add(api.get(status_url(session_id))["ETag"])
    services.update_file_progress(session_id, "a.pdf", progress=100, status="completed")
    services.update_file_progress(session_id, "b.mp3", progress=100, status="completed")
    services.mark_session_complete(session_id)
    final = api.get(status_url(session_id))
    seen.add(final["ETag"])

    assert len(seen) == 4
    # After the final write the body stays as it is, and so does the ETag.
    assert api.get(status_url(session_id), HTTP_IF_NONE_MATCH=final["ETag"]).status_code == 304


def test_stale_etag_gets_the_new_body(api, session_id):
    old = api.get(status_url(session_id))["ETag"]
    services.update_file_progress(session_id, "b.mp3", progress=10, message="Listening")

    response = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=old)

    assert response.status_code == 200
    assert response.json()["message"] == "Listening"
    assert response["ETag"] != old


def test_etag_changes_with_files_limit(api, session_id, settings):
    before = api.get(status_url(session_id))["ETag"]
    override(settings, FILES_LIMIT=1)

    response = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=before)

    assert response.status_code == 200
    assert len(response.json()["files"]) == 1


def test_etag_of_unversioned_progress_follows_its_content(api, knowledge):
    sid = str(uuid.uuid4())
    seed = {
        "session_id": sid,
        "status": "processing",
        "total_files": 1,
        "processed_files": 0,
        "current_file": None,
        "progress": 10,
        "message": "a",
        "last_updated": 1_700_000_000,
        "error": None,
    }
    store_raw_progress(knowledge, seed)
    first = api.get(status_url(sid))["ETag"]
    store_raw_progress(knowledge, {**seed, "message": "b"})  # same second, no version

    assert api.get(status_url(sid), HTTP_IF_NONE_MATCH=first).status_code == 200


def test_etags_of_two_sessions_differ(api, make_knowledge, user):
    a = services.start_session(make_knowledge(owner=user))
    b = services.start_session(make_knowledge(owner=user))

    assert api.get(status_url(a))["ETag"] != api.get(status_url(b))["ETag"]


# --- bounded files --------------------------------------------------------------------------


def test_files_are_bounded_and_ordered(api, knowledge):
    names = [f"f{i:03}.wav" for i in range(500)]
    sid = services.start_session(knowledge, files=names)
    for name in ("f010.wav", "f300.wav", "f499.wav"):
        services.update_file_progress(sid, name, progress=0, status="error", error="bad audio")
    for name in ("f250.wav", "f005.wav"):
        services.update_file_progress(sid, name, progress=30)
    for name in ("f001.wav", "f002.wav"):
        services.update_file_progress(sid, name, progress=100, status="completed")

    body = api.get(status_url(sid)).json()

    assert body["files_total"] == 500
    assert len(body["files"]) == 100
    shown = [f["name"] for f in body["files"]]
    assert shown[:3] == ["f010.wav", "f300.wav", "f499.wav"]
    assert shown[3:5] == ["f005.wav", "f250.wav"]  # stored order, not update order
    rest = [
        n for n in names if n not in {"f010.wav", "f300.wav", "f499.wav", "f005.wav", "f250.wav"}
    ]
    assert shown[5:] == rest[:95]
    assert body["files"][0]["error"] == "bad audio"
    assert body["failed_files"] == 3


def test_files_limit_setting(api, knowledge, settings):
    override(settings, FILES_LIMIT=2)
    sid = services.start_session(knowledge, files=["a", "b", "c", "d"])
    services.update_file_progress(sid, "d", progress=5)

    body = api.get(status_url(sid)).json()

    assert [f["name"] for f in body["files"]] == ["d", "a"]
    assert body["files_total"] == 4


# --- who may read: 404 for everything that is not the caller's -------------------------------


def test_missing_malformed_expired_and_foreign_ids_answer_identically(
    make_knowledge, user, other_user, settings
):
    override(settings, STALE_AFTER=60, FINISHED_TTL=60)
    mine_stale = services.start_session(make_knowledge(owner=user))
    with freeze_time(timezone.now() + timedelta(seconds=61)):
        theirs = services.start_session(make_knowledge(owner=other_user))
        cleared = services.start_session(make_knowledge(owner=user))
        services.clear_progress(cleared)
        api = client_for(user)
        responses = [
            api.get(status_url(sid))
            for sid in (str(uuid.uuid4()), "nope", mine_stale, theirs, cleared)
        ]

    for response in responses:
        assert_json_404(response)
    headers = [sorted(r.headers.items()) for r in responses]
    assert all(h == headers[0] for h in headers)


def test_finished_session_is_served_until_finished_ttl(api, knowledge, settings):
    override(settings, FINISHED_TTL=120, STALE_AFTER=30)
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        frozen.tick(20)
        services.mark_session_error(sid, "boom")
        frozen.tick(120)  # older than STALE_AFTER, but finished sessions use FINISHED_TTL
        assert api.get(status_url(sid)).json()["status"] == "error"
        frozen.tick(1)
        assert_json_404(api.get(status_url(sid)))


def test_processing_session_is_gone_after_stale_after(api, knowledge, settings):
    override(settings, STALE_AFTER=30)
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        frozen.tick(30)
        assert api.get(status_url(sid)).status_code == 200
        frozen.tick(1)
        assert_json_404(api.get(status_url(sid)))


@pytest.mark.parametrize("session_id_text", WEIRD_IDS)
def test_malformed_ids_answer_json_404(api, session_id_text):
    path = "/api/v1/progress/" + quote(session_id_text, safe="")
    assert_json_404(api.get(path + "/status"))
    assert_json_404(api.delete(path))
    legacy = api.get(path)
    assert legacy.status_code == 410
    assert legacy["Content-Type"] == "application/json"


def test_empty_id_answers_json_404(api):
    assert_json_404(api.get("/api/v1/progress//status"))


def test_staff_reads_any_session(session_id, staff_user):
    assert client_for(staff_user).get(status_url(session_id)).status_code == 200


def test_session_without_owner_is_staff_only(make_knowledge, user, staff_user):
    sid = services.start_session(make_knowledge())

    assert_json_404(client_for(user).get(status_url(sid)))
    assert client_for(staff_user).get(status_url(sid)).status_code == 200


def test_without_owner_field_only_staff_reads(session_id, user, staff_user, settings):
    override(settings, OWNER_FIELD=None)

    assert_json_404(client_for(user).get(status_url(session_id)))
    assert_json_404(client_for(user).delete(detail_url(session_id)))
    assert client_for(staff_user).get(status_url(session_id)).status_code == 200
    assert client_for(user).get(LIST_URL).json() == {"results": []}


def test_anonymous_gets_drf_answer_of_the_host_authentication(session_id, settings):
    anonymous = APIClient()

    # The demo authenticates with sessions first: DRF answers 403.
    for response in (
        anonymous.get(status_url(session_id)),
        anonymous.get(LIST_URL),
        anonymous.delete(detail_url(session_id)),
    ):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()

    override(settings, AUTHENTICATION_CLASSES=["rest_framework.authentication.BasicAuthentication"])
    response = anonymous.get(status_url(session_id))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    # Anonymous callers learn nothing about ids: unknown ones answer the same.
    unknown = anonymous.get(status_url(str(uuid.uuid4())))
    assert (unknown.status_code, unknown.content) == (401, response.content)


def test_basic_authentication(session_id, settings):
    override(settings, AUTHENTICATION_CLASSES=[BasicAuthentication])  # classes work too
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + _b64("alice:pw-alice-123"))

    assert client.get(status_url(session_id)).status_code == 200


def test_permission_classes_are_read_per_request(session_id, settings):
    anonymous = APIClient()
    assert anonymous.get(status_url(session_id)).status_code == 403

    override(settings, PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])

    assert anonymous.get(status_url(session_id)).status_code == 200


def test_object_permission_denial_for_anonymous_is_404(session_id, settings):
    override(
        settings,
        PERMISSION_CLASSES=[
            "rest_framework.permissions.AllowAny",
            "progress_tracking.permissions.IsOwnerOrStaff",
        ],
    )

    assert_json_404(APIClient().get(status_url(session_id)))


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


# --- DELETE {id} ----------------------------------------------------------------------------


def test_delete_clears_progress(api, session_id, knowledge):
    response = api.delete(detail_url(session_id))

    assert response.status_code == 200
    assert response.json() == {"message": CLEARED_MESSAGE}
    assert "no-store" in response["Cache-Control"]
    assert services.get_progress(session_id) is None
    knowledge.refresh_from_db()  # the row stays
    assert PROGRESS_KEY not in knowledge.meta
    assert_json_404(api.get(status_url(session_id)))
    assert_json_404(api.delete(detail_url(session_id)))


def test_delete_of_foreign_session_is_404_and_keeps_it(session_id, other_user):
    assert_json_404(client_for(other_user).delete(detail_url(session_id)))
    assert services.get_progress(session_id) is not None


def test_staff_may_delete(session_id, staff_user):
    assert client_for(staff_user).delete(detail_url(session_id)).status_code == 200


def test_delete_unknown_and_expired(api, session_id, settings):
    assert_json_404(api.delete(detail_url(str(uuid.uuid4()))))
    override(settings, STALE_AFTER=10)
    with freeze_time(timezone.now() + timedelta(seconds=11)):
        assert_json_404(api.delete(detail_url(session_id)))


def test_delete_with_session_auth_needs_csrf_token(session_id, user):
    client = client_for(user, enforce_csrf_checks=True)

    refused = client.delete(detail_url(session_id))
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert services.get_progress(session_id) is not None

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    accepted = client.delete(detail_url(session_id), HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200


def test_polling_with_session_auth_needs_no_csrf_token(session_id, user):
    client = client_for(user, enforce_csrf_checks=True)
    assert client.get(status_url(session_id)).status_code == 200
    assert client.get(LIST_URL).status_code == 200


# --- GET {id}: the retired SSE stream ---------------------------------------------------------


@pytest.mark.parametrize("sid", ["live", str(uuid.uuid4()), "not-a-uuid", "été"])
def test_legacy_stream_url_is_gone(api, session_id, sid, django_assert_num_queries):
    sid = session_id if sid == "live" else sid
    with django_assert_num_queries(0):
        response = api.get(detail_url(sid), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 410
    assert response["Content-Type"] == "application/json"
    assert "event-stream" not in response["Content-Type"]
    body = response.json()
    assert set(body) == {"detail", "status_url"}
    assert "deprecated" in body["detail"] and "use the status endpoint" in body["detail"]
    assert body["status_url"] == "http://testserver" + status_url(sid)
    assert response["Link"] == f'<{body["status_url"]}>; rel="successor-version"'
    assert response["Deprecation"] == f"@{int(SSE_DEPRECATED_AT.timestamp())}"
    assert re.fullmatch(r"@\d+", response["Deprecation"])
    assert body["detail"] == str(LEGACY_DETAIL)


def test_legacy_status_url_resolves_to_the_status_view(api, session_id):
    url = api.get(detail_url(session_id)).json()["status_url"]
    path = url.removeprefix("http://testserver")

    assert resolve(path).url_name == "status"
    assert api.get(path).status_code == 200


def test_legacy_stream_url_needs_no_authentication(session_id):
    assert APIClient().get(detail_url(session_id)).status_code == 410


# --- GET "": the caller's running sessions --------------------------------------------------


def test_list_shows_own_running_sessions_newest_first(make_knowledge, user, other_user):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        old = services.start_session(make_knowledge(owner=user))
        frozen.tick(5)
        new = services.start_session(make_knowledge(owner=user), files=["x"])
        done = services.start_session(make_knowledge(owner=user))
        services.mark_session_complete(done)
        services.start_session(make_knowledge(owner=other_user))
        services.start_session(make_knowledge())

        body = client_for(user).get(LIST_URL).json()

    assert [s["session_id"] for s in body["results"]] == [new, old]
    row = get_progress_model().objects.get(progress_session_id=new)
    assert body["results"][0]["object_id"] == str(row.pk)
    assert set(body["results"][0]) == SEED_FIELDS | EXTENSION_FIELDS
    assert body["results"][0]["files"][0]["name"] == "x"


def test_list_drops_stale_sessions(api, knowledge, settings):
    override(settings, STALE_AFTER=30)
    services.start_session(knowledge)
    with freeze_time(timezone.now() + timedelta(seconds=31)):
        assert api.get(LIST_URL).json() == {"results": []}


def test_list_is_bounded(make_knowledge, user):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        ids = []
        for _ in range(LIST_LIMIT + 1):
            frozen.tick(1)
            ids.append(services.start_session(make_knowledge(owner=user)))
        results = client_for(user).get(LIST_URL).json()["results"]

    assert len(results) == LIST_LIMIT
    assert [r["session_id"] for r in results] == ids[::-1][:LIST_LIMIT]


# --- queries per request (demo authentication: session) --------------------------------------


def test_query_counts(api, session_id, django_assert_num_queries):
    # One progress model in the demo site; tests/multi runs this with five.
    models = hosts.progress_models()
    owned = [m for m in models if hosts.owner_field(m)]
    # 1 session + 1 user (authentication), then exactly one for the progress.
    with django_assert_num_queries(3):
        etag = api.get(status_url(session_id))["ETag"]
    with django_assert_num_queries(3):
        assert api.get(status_url(session_id), HTTP_IF_NONE_MATCH=etag).status_code == 304
    with django_assert_num_queries(2 + len(models)):  # an unknown id: each model once
        assert api.get(status_url(str(uuid.uuid4()))).status_code == 404
    with django_assert_num_queries(2):  # a malformed id never reaches the database
        assert api.get(status_url("nope")).status_code == 404
    with django_assert_num_queries(2 + len(owned)):  # one per model with an owner
        assert api.get(LIST_URL).status_code == 200
    with django_assert_num_queries(4):  # read + permission check, then one UPDATE
        assert api.delete(detail_url(session_id)).status_code == 200


# --- property tests: no input makes the API fail --------------------------------------------

FUZZ = hsettings(
    max_examples=75,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(text=st.text(min_size=1, max_size=300))
def test_any_session_id_in_the_path_never_fails(api, text):
    path = "/api/v1/progress/" + quote(text, safe="")
    responses = [api.get(path + "/status"), api.delete(path), api.get(path)]
    for response in responses:
        assert response.status_code < 500, (text, response.status_code)
        assert response["Content-Type"] == "application/json"
    if "/" not in text:
        assert [r.status_code for r in responses] == [404, 404, 410]


@FUZZ
@given(text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200))
def test_any_if_none_match_never_fails(api, session_id, text):
    response = api.get(status_url(session_id), HTTP_IF_NONE_MATCH=text)
    assert response.status_code in {200, 304}
    if response.status_code == 200:
        assert response.json()["session_id"] == session_id


@FUZZ
@given(
    path=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100),
    accept=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100),
)
def test_any_raw_path_and_accept_header_never_fails(api, path, accept):
    response = api.get("/api/v1/progress/" + path, HTTP_ACCEPT=accept)
    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
