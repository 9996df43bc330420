"""The OpenAPI schema: valid, served, honoured by real answers, and fuzzed with Schemathesis."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections import Counter
from contextlib import contextmanager

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.middleware.csrf import _get_new_csrf_string
from django.urls import NoReverseMatch, reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

import progress_tracking
from progress_tracking import services
from progress_tracking.models import FINAL_STATUSES
from progress_tracking.selectors import LIST_LIMIT

STATUS = "/api/v1/progress/{session_id}/status"
DETAIL = "/api/v1/progress/{session_id}"
LIST = "/api/v1/progress/"
CANCEL = "/api/v1/progress/{session_id}/cancel"
MAX_EXAMPLES = 50


# drf-spectacular's decorators build on the schema class configured when the views are
# imported, so the schema tests need settings that set it up (config.settings does;
# tests.settings_app_only, the app without any extra, does not).
needs_spectacular = pytest.mark.skipif(
    "drf_spectacular"
    not in str(getattr(django_settings, "REST_FRAMEWORK", {}).get("DEFAULT_SCHEMA_CLASS", "")),
    reason="these settings do not configure drf-spectacular as DEFAULT_SCHEMA_CLASS",
)


@pytest.fixture
def openapi(db):
    return SchemaGenerator().get_schema(request=None, public=True)


@contextmanager
def connections_kept_open():
    """Run WSGI requests inside the test's transaction, as Django's test client does.

    A real WSGI handler closes "old" connections around each request, which would break the
    test transaction; the test client disconnects that handler, and so do we.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def app(db):
    with connections_kept_open():
        yield WSGIHandler()


@pytest.fixture
def credentials(user):
    """Cookies and header of a session-authenticated browser, CSRF token included."""
    client = APIClient()
    client.force_login(user)
    token = _get_new_csrf_string()
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": token}


@pytest.fixture
def schema(openapi, app, credentials):
    """The live schema, calling the WSGI app in-process, authenticated as ``user``.

    Credentials come from an auth provider, so Schemathesis knows they are real and checks
    that the API refuses the same requests without them (its ``ignored_auth`` check).
    """
    # The retired stream answers 410 by design: that is its "accepted" answer.
    config = schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-operation-id": "progress_stream_legacy",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["410"]}},
                }
            ]
        }
    )
    loaded = schemathesis.openapi.from_dict(openapi, config=config)
    loaded.app = app

    @loaded.auth()
    class DjangoSession:
        def get(self, case, context):
            return credentials

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), **data}
            case.headers = {**(case.headers or {}), "X-CSRFToken": data["csrftoken"]}

    return loaded


def authenticate(case):
    case.operation.schema.auth.set(
        case, schemathesis.AuthContext(operation=case.operation, app=None)
    )
    return case


@pytest.fixture
def live_ids(make_knowledge, user, other_user):
    """A running session, a finished one, and another user's: the ids the fuzzer reuses."""
    running = services.start_session(make_knowledge(owner=user), files=["a.pdf", "b.wav"])
    services.update_file_progress(running, "a.pdf", progress=30, message="Reading")
    finished = services.start_session(make_knowledge(owner=user))
    services.mark_session_error(finished, "Broken file")
    foreign = services.start_session(make_knowledge(owner=other_user))
    return [running, finished, foreign]


# --- the schema itself -----------------------------------------------------------------------


@needs_spectacular
def test_schema_is_valid_openapi_3(openapi):
    validate_schema(openapi)  # drf-spectacular's bundled OpenAPI 3.0 JSON schema
    assert openapi["openapi"].startswith("3.")
    assert set(openapi["paths"]) >= {STATUS, DETAIL, LIST}
    schemathesis.openapi.from_dict(openapi)  # and Schemathesis can load every operation


@needs_spectacular
def test_schema_documents_codes_and_headers(openapi):
    paths = openapi["paths"]
    status = paths[STATUS]["get"]["responses"]
    assert set(status) == {"200", "304", "401", "403", "404", "503"}
    headers = {"ETag", "X-Poll-Interval", "X-Progress-Capability"}
    assert set(status["200"]["headers"]) == headers
    assert set(status["304"]["headers"]) == headers
    assert not status["200"]["headers"]["X-Progress-Capability"].get("required")
    request_headers = {p["name"] for p in paths[STATUS]["get"]["parameters"] if p["in"] == "header"}
    assert {"If-None-Match", "X-Progress-Capability"} <= request_headers
    assert "content" not in status["304"]
    assert set(paths[DETAIL]["delete"]["responses"]) == {"200", "401", "403", "404", "503"}
    legacy = paths[DETAIL]["get"]
    assert legacy["deprecated"] is True
    assert set(legacy["responses"]) == {"410"}
    assert set(legacy["responses"]["410"]["headers"]) == {"Deprecation", "Link"}
    assert "security" not in legacy
    assert set(paths[LIST]["get"]["responses"]) == {"200", "401", "403", "503"}
    body = openapi["components"]["schemas"]["ProgressStatus"]
    assert {"session_id", "status", "progress", "files", "files_total", "error"} <= set(
        body["required"]
    )


@needs_spectacular
def test_the_schema_states_what_the_code_uses(openapi):
    paths = openapi["paths"]
    assert f"newest first, at most {LIST_LIMIT}." in paths[LIST]["get"]["description"]
    stop = paths[STATUS]["get"]["description"].split("stop when status is ")[1]
    assert set(stop.rstrip(".").replace(" or ", ", ").split(", ")) == FINAL_STATUSES
    # One URL, two views: each method is documented with its own view's authentication.
    assert paths[DETAIL]["delete"]["security"]
    assert "security" not in paths[DETAIL]["get"]


@needs_spectacular
def test_demo_serves_the_schema(client):
    try:
        url = reverse("schema")
    except NoReverseMatch:
        pytest.skip("the demo's URLconf (config.urls) is not in use")
    response = client.get(url, {"format": "json"})

    assert response.status_code == 200
    assert STATUS in response.json()["paths"]


def test_views_work_without_drf_spectacular(monkeypatch, knowledge, user):
    """drf-spectacular is an optional extra: hide it, import the API afresh and serve a poll."""
    sid = services.start_session(knowledge)
    hidden = [m for m in sys.modules if m.split(".")[0] == "drf_spectacular"]
    for name in [*hidden, "drf_spectacular"]:
        monkeypatch.setitem(sys.modules, name, None)  # None makes `import` raise ImportError
    for name in ("views", "schema", "serializers"):
        monkeypatch.delitem(sys.modules, f"progress_tracking.{name}", raising=False)
        original = getattr(progress_tracking, name, None)
        monkeypatch.setattr(progress_tracking, name, original, raising=False)

    schema_module = importlib.import_module("progress_tracking.schema")
    serializers = importlib.import_module("progress_tracking.serializers")
    views = importlib.import_module("progress_tracking.views")

    assert schema_module.HAS_SPECTACULAR is False
    assert serializers.HAS_SPECTACULAR is False
    request = APIRequestFactory().get("/")
    force_authenticate(request, user=user)
    response = views.SessionStatusView.as_view()(request, session_id=sid)
    assert response.status_code == 200
    assert response.data["session_id"] == sid


# --- real answers conform to the schema -------------------------------------------------------


@needs_spectacular
def test_real_answers_match_the_schema(schema, live_ids):
    running, finished, foreign = live_ids
    status = schema[STATUS]["GET"]
    detail_get = schema[DETAIL]["GET"]
    delete = schema[DETAIL]["DELETE"]
    listing = schema[LIST]["GET"]
    seen = []

    def check(case, expected, *, anonymous=False):
        if not anonymous:
            authenticate(case)
        response = case.call()
        assert response.status_code == expected, response.text
        case.validate_response(response)
        seen.append(expected)
        return response

    ok = check(status.Case(path_parameters={"session_id": running}), 200)
    check(status.Case(path_parameters={"session_id": finished}), 200)
    etag = ok.headers["etag"][0]
    check(
        status.Case(path_parameters={"session_id": running}, headers={"If-None-Match": etag}), 304
    )
    for sid in (foreign, str(uuid.uuid4()), "not-a-uuid"):
        check(status.Case(path_parameters={"session_id": sid}), 404)
    check(status.Case(path_parameters={"session_id": running}), 403, anonymous=True)
    listed = check(listing.Case(), 200)
    assert [s["session_id"] for s in listed.json()["results"]] == [running]
    check(detail_get.Case(path_parameters={"session_id": running}), 410)
    check(detail_get.Case(path_parameters={"session_id": "whatever"}), 410, anonymous=True)
    check(delete.Case(path_parameters={"session_id": foreign}), 404)
    check(delete.Case(path_parameters={"session_id": running}), 200)
    check(delete.Case(path_parameters={"session_id": running}), 404)
    assert Counter(seen) == {200: 4, 304: 1, 404: 5, 403: 1, 410: 2}


# --- Schemathesis fuzzing ----------------------------------------------------------------------

FUZZ_SETTINGS = hsettings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@needs_spectacular
def test_schemathesis_finds_no_server_errors_or_schema_violations(schema, live_ids):
    """Every documented operation, generated data mixed with real ids. Each example runs in a
    savepoint that is rolled back, so a DELETE does not starve the examples after it."""
    tried: Counter[str] = Counter()
    codes: dict[str, Counter[int]] = {}

    # The demo's schema also documents the host's own views; fuzz this app's operations.
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(LIST):
            continue
        with_real_ids = (
            [operation.as_strategy(path_parameters={"session_id": sid}) for sid in live_ids]
            if "{session_id}" in operation.path
            else []
        )
        cases = st.one_of(operation.as_strategy(), *with_real_ids)

        @FUZZ_SETTINGS
        @given(case=cases)
        def run(case):
            label = case.operation.label
            with transaction.atomic():
                response = case.call()
                tried[label] += 1
                codes.setdefault(label, Counter())[response.status_code] += 1
                assert response.status_code < 500, response.text
                case.validate_response(response)
                transaction.set_rollback(True)

        run()

    print("\nSchemathesis examples per operation:", dict(tried))
    print("Status codes per operation:", {k: dict(v) for k, v in codes.items()})
    assert set(tried) == {
        f"GET {STATUS}",
        f"GET {DETAIL}",
        f"DELETE {DETAIL}",
        f"POST {CANCEL}",
        f"GET {LIST}",
    }
    for label, count in tried.items():
        assert count >= 10, (label, count)
    # The real ids are reached: live bodies, and real deletions.
    assert codes[f"GET {STATUS}"][200] > 0
    assert codes[f"DELETE {DETAIL}"][200] > 0
    assert codes[f"POST {CANCEL}"][200] > 0
    assert set(codes[f"GET {DETAIL}"]) == {410}
