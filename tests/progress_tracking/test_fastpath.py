"""The status endpoint's fast path: read capabilities, the cache kept by the writes, fallbacks."""

from __future__ import annotations

import logging
import pickle
import uuid
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from progress_tracking import cache, capability, services
from progress_tracking.fastpath import newest_version_seen

from .fastpath_helpers import (
    BrokenCache,
    bare_client,
    status_url,
    use_cache,
    with_capability,
)

BROKEN = f"{BrokenCache.__module__}.BrokenCache"


def cookie_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def session_id(knowledge, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sid = services.start_session(knowledge, files=["a.pdf", "b.mp3"], message="Queued")
        services.update_file_progress(sid, "a.pdf", progress=40, message="Reading a.pdf")
    return sid


@pytest.fixture
def token(session_id, user):
    return capability.sign_read_capability(session_id, user.pk)


def missing_404(user) -> tuple[int, bytes, str]:
    """What the DRF view answers the owner for an id that does not exist."""
    response = cookie_client(user).get(status_url(str(uuid.uuid4())))
    return response.status_code, response.content, response["Content-Type"]


def as_triple(response) -> tuple[int, bytes, str]:
    return response.status_code, response.content, response["Content-Type"]


# --- issuing -------------------------------------------------------------------------------


def test_the_owners_cookie_poll_hands_out_a_capability(session_id, user):
    response = cookie_client(user).get(status_url(session_id))

    issued = response[capability.HEADER]
    assert capability.verify(issued) == capability.ReadClaim(session_id, str(user.pk))
    etag = response["ETag"]
    again = cookie_client(user).get(status_url(session_id), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert capability.verify(again[capability.HEADER]) is not None


def test_staff_reading_another_users_session_gets_no_capability(session_id, staff_user):
    response = cookie_client(staff_user).get(status_url(session_id))

    assert response.status_code == 200
    assert capability.HEADER not in response


def test_a_capability_is_never_in_the_body_or_the_url(session_id, user):
    response = cookie_client(user).get(status_url(session_id))

    assert response[capability.HEADER].encode() not in response.content


def test_read_capability_for_needs_a_known_user_and_a_session_id(user, session_id):
    from django.contrib.auth.models import AnonymousUser

    assert capability.read_capability_for(AnonymousUser(), session_id) is None
    assert capability.read_capability_for(user, "not-a-uuid") is None
    claim = capability.verify(capability.read_capability_for(user, uuid.UUID(session_id)))
    assert claim == capability.ReadClaim(session_id, str(user.pk))
    with pytest.raises(ValueError):
        capability.sign_read_capability("nope", user.pk)
    with pytest.raises(ValueError):
        capability.sign_read_capability(session_id, None)


# --- the fast answers, without a cache -----------------------------------------------------


def test_a_capability_alone_reads_the_session(session_id, token, user):
    with freeze_time(timezone.now()):  # both bodies' elapsed_seconds at the same moment
        cookie = cookie_client(user).get(status_url(session_id))
        fast = bare_client().get(status_url(session_id), **with_capability(token))

    assert fast.status_code == 200
    assert fast.content == cookie.content
    assert fast["ETag"] == cookie["ETag"]
    assert fast["X-Poll-Interval"] == cookie["X-Poll-Interval"]
    assert fast["Content-Type"] == cookie["Content-Type"]
    assert "no-store" in fast["Cache-Control"]
    # Not renewed by itself: a leaked capability dies with its age.
    assert capability.HEADER not in fast


def test_without_cache_a_capability_poll_is_one_query(
    session_id, token, user, django_assert_num_queries
):
    client = bare_client()
    with django_assert_num_queries(1):
        etag = client.get(status_url(session_id), **with_capability(token))["ETag"]
    with django_assert_num_queries(1):
        response = client.get(
            status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=etag)
        )
    assert response.status_code == 304
    assert response.content == b""


def test_the_cookie_path_keeps_its_three_queries(session_id, user, django_assert_num_queries):
    client = cookie_client(user)
    with django_assert_num_queries(3):
        assert client.get(status_url(session_id)).status_code == 200


def test_a_session_gone_answers_the_same_404(session_id, token, user, write):
    write(services.clear_progress, session_id)

    response = bare_client().get(status_url(session_id), **with_capability(token))

    assert as_triple(response) == missing_404(user)
    # The same headers too, but Vary (the cookie path read the session cookie).
    drf = cookie_client(user).get(status_url(str(uuid.uuid4())))
    assert {k for k in drf.headers if k != "Vary"} == {k for k in response.headers if k != "Vary"}
    assert response["X-Poll-Interval"] == drf["X-Poll-Interval"]


@pytest.mark.parametrize("cached", [False, True])
@pytest.mark.parametrize("not_modified", [False, True])
def test_the_fast_answers_carry_the_cookie_paths_headers(
    session_id, token, user, settings, write, cached, not_modified
):
    if cached:
        use_cache(settings)
        write(services.update_progress, session_id, message="cached")
    etag = cookie_client(user).get(status_url(session_id))["ETag"]
    headers = {"HTTP_IF_NONE_MATCH": etag} if not_modified else {}
    with freeze_time(timezone.now()):  # the same Expires
        drf = cookie_client(user).get(status_url(session_id), **headers)
        fast = bare_client().get(status_url(session_id), **with_capability(token, **headers))

    assert fast.status_code == drf.status_code == (304 if not_modified else 200)
    ignored = {"Vary", "X-Progress-Capability"}  # the cookie path read the session cookie
    assert {k: v for k, v in drf.headers.items() if k not in ignored} == {
        k: v for k, v in fast.headers.items() if k not in ignored
    }


# --- what a capability cannot do: all fall back to the normal authentication ---------------


def test_a_capability_for_another_session_is_not_honoured(make_knowledge, user, token, write):
    other = write(services.start_session, make_knowledge(owner=user))

    anonymous = bare_client().get(status_url(other), **with_capability(token))
    assert anonymous.status_code in (401, 403)  # what DRF answers an anonymous caller
    # With the cookie too, the poll is answered by the normal path.
    client = cookie_client(user)
    assert client.get(status_url(other), **with_capability(token)).status_code == 200


def test_an_expired_capability_is_not_honoured(session_id, user, settings):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "CAPABILITY_MAX_AGE": 60}
    with freeze_time(timezone.now() - timedelta(seconds=61)):
        old = capability.sign_read_capability(session_id, user.pk)

    response = bare_client().get(status_url(session_id), **with_capability(old))

    assert response.status_code in (401, 403)
    assert capability.verify(old) is None


def test_a_capability_of_another_user_is_not_honoured(session_id, other_user, user):
    stolen = capability.sign_read_capability(session_id, other_user.pk)

    anonymous = bare_client().get(status_url(session_id), **with_capability(stolen))
    assert anonymous.status_code in (401, 403)
    # Bob with his cookie and a capability signed for him: exactly a missing session.
    bob = cookie_client(other_user).get(status_url(session_id), **with_capability(stolen))
    assert as_triple(bob) == missing_404(other_user)


def test_a_capability_after_the_session_is_cleared_reads_as_missing(
    session_id, token, user, write, settings
):
    use_cache(settings)
    write(services.clear_progress, session_id)

    response = bare_client().get(status_url(session_id), **with_capability(token))

    assert as_triple(response) == missing_404(user)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: "",
        lambda t: "x",
        lambda t: "a" * 600,
        lambda t: "not:signed:at-all",
        lambda t: t + "x",
        lambda t: t.upper(),
        lambda t: t.replace(":", "::", 1),
    ],
    ids=["empty", "short", "long", "unsigned", "suffix", "upper", "reshaped"],
)
def test_a_forged_capability_falls_back(session_id, token, forge):
    response = bare_client().get(status_url(session_id), **with_capability(forge(token)))

    assert response.status_code in (401, 403)


def test_a_capability_signed_with_another_salt_is_refused(session_id, user):
    from django.core import signing

    other = signing.TimestampSigner(salt="something-else").sign(f"{session_id}:{user.pk}")

    assert capability.verify(other) is None


def test_only_get_takes_the_fast_path(session_id, token):
    response = bare_client().head(status_url(session_id), **with_capability(token))

    assert response.status_code in (401, 403)


# --- with a cache kept by the writes -------------------------------------------------------


def test_with_cache_a_capability_poll_makes_no_query(
    session_id, token, settings, write, django_assert_num_queries, user
):
    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    client = bare_client()
    with freeze_time(timezone.now()):  # both bodies' elapsed_seconds at the same moment
        expected = cookie_client(user).get(status_url(session_id))
        with django_assert_num_queries(0):
            fast = client.get(status_url(session_id), **with_capability(token))
    with django_assert_num_queries(0):
        again = client.get(
            status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=fast["ETag"])
        )
    assert fast.content == expected.content
    assert fast["ETag"] == expected["ETag"]
    assert again.status_code == 304


def test_every_write_reaches_the_cache_after_its_commit(session_id, token, settings, write):
    use_cache(settings)
    client = bare_client()
    write(services.update_progress, session_id, message="one")
    assert client.get(status_url(session_id), **with_capability(token)).json()["message"] == "one"
    write(services.update_file_progress, session_id, "a.pdf", progress=100, status="completed")
    write(services.update_file_progress, session_id, "b.mp3", progress=100, status="completed")
    write(services.mark_session_complete, session_id, message="done")

    body = client.get(status_url(session_id), **with_capability(token)).json()

    assert body["status"] == "completed"
    assert body["message"] == "done"
    # A straggler after the final state changes nothing, in the database or the cache.
    write(services.update_progress, session_id, message="late")
    assert client.get(status_url(session_id), **with_capability(token)).json() == body


def test_nothing_reaches_the_cache_before_the_commit(session_id, token, settings):
    store = use_cache(settings)

    services.update_progress(session_id, message="uncommitted")  # on_commit never runs here

    assert cache.read(store, session_id) is None


def test_a_cache_miss_reads_the_database_once_then_remembers(
    session_id, token, settings, django_assert_num_queries
):
    store = use_cache(settings)  # the session was written before the cache existed
    client = bare_client()
    with freeze_time(timezone.now()):  # both bodies' elapsed_seconds at the same moment
        with django_assert_num_queries(1):
            first = client.get(status_url(session_id), **with_capability(token))
        with django_assert_num_queries(0):
            second = client.get(status_url(session_id), **with_capability(token))

    assert first.content == second.content
    assert cache.read(store, session_id) is not None


def test_a_reader_never_replaces_a_record(session_id, token, settings, write, user):
    store = use_cache(settings)
    write(services.update_progress, session_id, message="newer")
    newer = cache.read(store, session_id)
    older = newer._replace(version=1, etag='"1-x"', state=pickle.dumps({"old": True}))

    cache.remember(store, session_id, older)

    assert cache.read(store, session_id) == newer


def test_a_cache_behind_the_client_is_skipped(session_id, token, settings, write, user):
    """After an outage the cache may hold an older record: a client never goes back to it."""
    store = use_cache(settings)
    write(services.update_progress, session_id, message="old")
    stale_record = cache.read(store, session_id)
    write(services.update_progress, session_id, message="new")
    client = bare_client()
    seen = client.get(status_url(session_id), **with_capability(token))
    store.set(cache.key_for(session_id), stale_record)  # the cache went back meanwhile

    again = client.get(
        status_url(session_id), **with_capability(token, HTTP_IF_NONE_MATCH=seen["ETag"])
    )

    assert again.status_code == 304
    assert again["ETag"] == seen["ETag"]


def test_a_stale_session_reads_as_gone_from_its_record(
    session_id, token, settings, write, django_assert_num_queries, user
):
    use_cache(settings)
    write(services.update_progress, session_id, message="soon stale")
    later = timezone.now() + timedelta(seconds=301)
    with freeze_time(later), django_assert_num_queries(0):
        response = bare_client().get(status_url(session_id), **with_capability(token))
    with freeze_time(later):
        assert as_triple(response) == missing_404(user)


def test_cleanup_takes_effect_on_the_next_poll(
    session_id, token, settings, write, django_assert_num_queries, user, make_knowledge
):
    store = use_cache(settings)
    keep = write(services.start_session, make_knowledge(owner=user))
    write(services.update_progress, session_id, message="cached")

    assert services.cleanup_stale_progress() == 0
    now = timezone.now()
    with freeze_time(now + timedelta(seconds=200)):
        services.update_progress(keep, message="still alive")  # not stale: kept
    with freeze_time(now + timedelta(seconds=301)):
        assert services.cleanup_stale_progress() == 1

    assert cache.read(store, session_id).progress is None  # a tombstone
    with django_assert_num_queries(0):
        response = bare_client().get(status_url(session_id), **with_capability(token))
    assert as_triple(response) == missing_404(user)


def test_another_users_capability_with_a_cached_record_falls_back(
    session_id, other_user, settings, write
):
    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    stolen = capability.sign_read_capability(session_id, other_user.pk)

    assert bare_client().get(status_url(session_id), **with_capability(stolen)).status_code in (
        401,
        403,
    )


# --- the cache is down ---------------------------------------------------------------------


def test_a_cache_outage_reads_the_database_without_error(
    session_id, token, settings, write, caplog, django_assert_num_queries
):
    use_cache(settings, backend=BROKEN)
    with caplog.at_level(logging.WARNING, logger="progress_tracking"):
        write(services.update_progress, session_id, message="written while the cache is down")
        with django_assert_num_queries(1):
            response = bare_client().get(status_url(session_id), **with_capability(token))

    assert response.status_code == 200
    assert response.json()["message"] == "written while the cache is down"
    assert "Progress cache" in caplog.text


def test_a_cache_outage_during_cleanup_and_clear_raises_nothing(
    session_id, settings, write, caplog, make_knowledge, user
):
    use_cache(settings, backend=BROKEN)
    other = write(services.start_session, make_knowledge(owner=user))
    later = timezone.now() + timedelta(seconds=301)
    with caplog.at_level(logging.WARNING, logger="progress_tracking"):
        assert write(services.clear_progress, other) is True
        with freeze_time(later):
            assert services.cleanup_stale_progress() == 1
    assert "Progress cache unavailable" in caplog.text
    assert services.get_progress(other) is None


def test_no_cache_configured_means_no_cache_work(session_id, settings, write):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "CACHE": None}

    write(services.update_progress, session_id, message="x")  # nothing to sync, no error

    assert cache.get_cache() is None


# --- small parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 0),
        ("", 0),
        ("*", 0),
        ('"7-abc"', 7),
        ('W/"7-abc", "12-def"', 12),
        ('"abc"', 0),
        ('"99999999999999999999-x"', 0),
    ],
)
def test_newest_version_seen(header, expected):
    assert newest_version_seen(header) == expected


def test_records_expire_by_status(session_id, settings):
    settings.PROGRESS_TRACKING = {
        **settings.PROGRESS_TRACKING,
        "STALE_AFTER": 100,
        "FINISHED_TTL": 10,
    }
    now = timezone.now()

    assert cache.expiry("processing", now) == pytest.approx(now.timestamp() + 100)
    assert cache.expiry("completed", now) == pytest.approx(now.timestamp() + 10)
    assert cache.expiry("processing", None) == 0.0


def test_cache_alias_must_exist(settings):
    from progress_tracking.checks import check_fast_path

    settings.PROGRESS_TRACKING = {"CACHE": "nowhere"}
    assert [e.id for e in check_fast_path()] == ["progress_tracking.E013"]
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": "progress_tracking.redis_cache.RedisCache", "LOCATION": "x"},
    }
    settings.PROGRESS_TRACKING = {"CACHE": "shared"}
    assert check_fast_path() == []


@pytest.mark.parametrize(
    ("backend", "warned"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", True),
        ("django.core.cache.backends.filebased.FileBasedCache", True),
        ("django.core.cache.backends.redis.RedisCache", False),
        ("progress_tracking.redis_cache.RedisCache", False),
        ("django.core.cache.backends.memcached.PyMemcacheCache", False),
    ],
)
def test_a_per_process_cache_is_warned_about(settings, backend, warned):
    from progress_tracking.checks import check_fast_path

    settings.CACHES = {**settings.CACHES, "progress": {"BACKEND": backend, "LOCATION": "x"}}
    settings.PROGRESS_TRACKING = {"CACHE": "progress"}

    ids = [e.id for e in check_fast_path()]

    assert ids == (["progress_tracking.W013"] if warned else [])


def test_capability_age_is_bounded(settings):
    from progress_tracking.checks import check_fast_path, check_settings

    settings.PROGRESS_TRACKING = {"CAPABILITY_MAX_AGE": 86401}
    assert [e.id for e in check_fast_path()] == ["progress_tracking.E015"]
    settings.PROGRESS_TRACKING = {"CAPABILITY_MAX_AGE": 0}
    assert "progress_tracking.E010" in [e.id for e in check_settings()]
    settings.PROGRESS_TRACKING = {"CAPABILITY_MAX_AGE": 3600}
    assert check_fast_path() == []


def test_caches_are_separate_per_alias(settings):
    use_cache(settings)
    assert cache.get_cache() is caches["progress"]


# --- the template tag hands the page a capability -------------------------------------------


def _bar_capability(html: str) -> str | None:
    import re

    found = re.search(r'data-capability="([^"]+)"', html)
    return found.group(1) if found else None


def test_the_progress_bar_carries_a_capability_for_its_viewer(session_id, user, rf):
    from django.contrib.auth.models import AnonymousUser
    from django.template import Context, Template

    template = Template("{% load progress_tracking %}{% progress_bar sid %}")
    request = rf.get("/")
    request.user = user
    html = template.render(Context({"sid": session_id, "request": request}))

    token = _bar_capability(html)
    assert capability.verify(token) == capability.ReadClaim(session_id, str(user.pk))
    # Without a request, the "user" the auth context processor sets is used.
    assert _bar_capability(template.render(Context({"sid": session_id, "user": user})))
    request.user = AnonymousUser()
    assert (
        _bar_capability(template.render(Context({"sid": session_id, "request": request}))) is None
    )
    assert _bar_capability(template.render(Context({"sid": session_id}))) is None
    idle = Template("{% load progress_tracking %}{% progress_bar '' %}")
    assert _bar_capability(idle.render(Context({"user": user}))) is None


# --- edges of the write and read sides ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_inside_the_callers_transaction_reaches_the_cache_at_once(
    knowledge, user, settings
):
    """PostgreSQL writes progress on a side connection while the caller's transaction goes on:
    the cache follows at once, and no lock is left behind for the next write."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("side-connection writes exist on PostgreSQL only")
    store = use_cache(settings)
    session_id = services.start_session(knowledge)
    token = capability.sign_read_capability(session_id, user.pk)
    with transaction.atomic():
        services.update_progress(session_id, message="inside the caller's transaction")
        assert cache.read(store, session_id) is not None
        seen = bare_client().get(status_url(session_id), **with_capability(token)).json()
        assert seen["message"] == "inside the caller's transaction"
        services.update_progress(session_id, message="and again")  # not blocked by a lock
        assert cache.read(store, session_id).progress["message"] == "and again"


def test_a_database_error_on_the_fast_path_falls_back_to_the_drf_view(
    session_id, token, user, monkeypatch
):
    from django.db import DatabaseError

    from progress_tracking import selectors

    real = selectors.session_for_api
    calls = []

    def failing_once(sid):
        calls.append(sid)
        if len(calls) == 1:
            raise DatabaseError("connection lost")
        return real(sid)

    monkeypatch.setattr(selectors, "session_for_api", failing_once)
    response = cookie_client(user).get(status_url(session_id), **with_capability(token))

    assert response.status_code == 200
    assert len(calls) == 2  # the fast path's, then the DRF view's
    assert capability.HEADER in response  # answered by the DRF view


def test_remember_and_sync_survive_a_broken_cache_and_bad_ids(settings, caplog, session_id):
    from django.core.cache import caches

    use_cache(settings, backend=BROKEN)
    record = cache.tombstone()
    with caplog.at_level(logging.WARNING, logger="progress_tracking"):
        cache.remember(caches["progress"], session_id, record)
        cache.sync_session("not-a-uuid")  # nothing to do, nothing raised
        cache.forget_sessions([])
    assert "not caching" in caplog.text


def test_a_reader_that_read_before_a_clear_cannot_bring_the_session_back(
    session_id, token, settings, write, user
):
    store = use_cache(settings)
    store.delete(cache.key_for(session_id))  # not cached: the next reader goes to the database
    from progress_tracking import selectors

    found = selectors.session_for_api(session_id)  # a reader reads the row...
    read_before = cache.build_record(found.progress, found.owner_id, found.updated_at)
    write(services.clear_progress, session_id)  # ...the session is cleared...
    cache.remember(store, session_id, read_before)  # ...then the reader stores what it read

    response = bare_client().get(status_url(session_id), **with_capability(token))

    assert as_triple(response) == missing_404(user)


def test_an_unreachable_database_on_the_fast_path_answers_the_drf_views_503(
    session_id, token, settings, monkeypatch, user
):
    """No cached record, and the database is down: the poll gets the JSON 503 with
    Retry-After that every other poll gets, not an HTML 500 nor (with no cookie to fall back
    on) the DRF view's 403."""
    from django.db import OperationalError

    from progress_tracking import selectors

    use_cache(settings)  # empty: the fast path has to ask the database

    def unreachable(sid):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(selectors, "session_for_api", unreachable)
    response = bare_client().get(status_url(session_id), **with_capability(token))
    # What the DRF view answers a cookie poll while the database is unreachable.
    drf = cookie_client(user).get(status_url(session_id))

    assert response.status_code == drf.status_code == 503
    assert response.content == drf.content
    assert set(response.json()) == {"detail"}
    for header in ("Content-Type", "Retry-After", "X-Poll-Interval", "Cache-Control"):
        assert response[header] == drf[header], header


# --- what the fast path shares with the DRF view ---------------------------------------------


@pytest.mark.parametrize("cached", [True, False])
def test_clock_fields_are_computed_when_answered_not_when_cached(
    knowledge, user, settings, django_capture_on_commit_callbacks, django_assert_num_queries, cached
):
    """elapsed_seconds and eta_seconds move with the clock between writes; a cached record
    must not freeze them at the time of the last write."""
    if cached:
        use_cache(settings)
    started = timezone.now().replace(microsecond=0)
    with freeze_time(started) as clock, django_capture_on_commit_callbacks(execute=True):
        sid = services.start_session(knowledge, files=["a.pdf"])
        for second in range(2, 22, 2):
            clock.move_to(started + timedelta(seconds=second))
            services.update_file_progress(sid, "a.pdf", progress=second * 2)
    token = capability.sign_read_capability(sid, user.pk)
    client = bare_client()
    with freeze_time(started + timedelta(seconds=21)):
        first = client.get(status_url(sid), **with_capability(token))
    with freeze_time(started + timedelta(seconds=31)):
        with django_assert_num_queries(0 if cached else 1):
            later = client.get(status_url(sid), **with_capability(token))
        expected = cookie_client(user).get(status_url(sid)).json()

    assert first.status_code == later.status_code == 200
    assert first["ETag"] == later["ETag"]  # no write in between: the same version
    assert first.json()["elapsed_seconds"] == 21
    assert later.json()["elapsed_seconds"] == 31
    assert later.json() == expected  # exactly what the DRF view renders at that moment
    assert later.json()["eta_seconds"] != first.json()["eta_seconds"]


def test_a_fast_answer_gives_the_automatic_cleanup_its_chance(
    session_id, token, settings, write, monkeypatch, django_assert_num_queries
):
    """Capability polls never reach ProgressAPIView.finalize_response: the fast path calls
    sweep_if_due itself (a clock check; a due sweep runs in its own thread)."""
    from progress_tracking import sweeper

    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    calls = []
    monkeypatch.setattr(sweeper, "sweep_if_due", lambda: calls.append(1))

    with django_assert_num_queries(0):
        ok = bare_client().get(status_url(session_id), **with_capability(token))
    gone = bare_client().get(status_url(str(uuid.uuid4())), **with_capability(token))

    assert ok.status_code == 200
    assert gone.status_code in (401, 403)  # a capability for another id: the DRF view
    assert len(calls) == 2  # once on the fast answer, once in the DRF view's finalize


def test_a_due_sweep_starts_from_a_fast_poll(session_id, token, settings, write, monkeypatch):
    """The real sweep_if_due on the fast path: a due look at the schedule starts the thread."""
    from progress_tracking import sweeper

    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "AUTO_CLEANUP": True}
    started = []
    monkeypatch.setattr(sweeper, "_sweep_in_thread", lambda: started.append(1))
    monkeypatch.setattr(sweeper, "_next_look", 0.0)

    response = bare_client().get(status_url(session_id), **with_capability(token))
    if sweeper._thread is not None:
        sweeper._thread.join(5)

    assert response.status_code == 200
    assert started == [1]


@pytest.mark.parametrize(
    "classes",
    [
        ("rest_framework.permissions.IsAdminUser",),
        (
            "rest_framework.permissions.IsAuthenticated",
            "tests.progress_tracking.test_fastpath.NoOne",
        ),
    ],
)
def test_other_permission_classes_turn_the_fast_path_off(
    session_id, token, settings, write, user, classes
):
    """The fast path grants only what IsOwnerOrStaff grants an owner; under permission
    classes it does not know it steps aside and the DRF view decides (here: denies)."""
    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "PERMISSION_CLASSES": classes}

    response = bare_client().get(status_url(session_id), **with_capability(token))
    cookie = cookie_client(user).get(status_url(session_id))

    assert response.status_code in (401, 403)
    assert cookie.status_code in (403, 404)


def test_the_default_permission_classes_in_any_spelling_keep_the_fast_path(
    session_id, token, settings, write, django_assert_num_queries
):
    from rest_framework.permissions import IsAuthenticated

    from progress_tracking.permissions import IsOwnerOrStaff

    use_cache(settings)
    write(services.update_progress, session_id, message="cached")
    settings.PROGRESS_TRACKING = {
        **settings.PROGRESS_TRACKING,
        "PERMISSION_CLASSES": [IsAuthenticated, IsOwnerOrStaff],
    }
    with django_assert_num_queries(0):
        response = bare_client().get(status_url(session_id), **with_capability(token))
    assert response.status_code == 200


class NoOne:
    """A host's own permission class: denies everything."""

    def has_permission(self, request, view):
        return False

    def has_object_permission(self, request, view, obj):
        return False


def test_a_session_replaced_on_its_row_reads_as_gone(
    knowledge, session_id, token, settings, write, user, django_assert_num_queries
):
    """A new session on the row replaces the finished one: its cached record goes too."""
    store = use_cache(settings)
    write(services.update_file_progress, session_id, "a.pdf", progress=100, status="completed")
    write(services.update_file_progress, session_id, "b.mp3", progress=100, status="completed")
    write(services.mark_session_complete, session_id, message="done")
    assert bare_client().get(status_url(session_id), **with_capability(token)).status_code == 200

    new_id = write(services.start_session, knowledge)

    assert new_id != session_id
    assert cache.read(store, session_id).progress is None  # a tombstone
    with django_assert_num_queries(0):
        response = bare_client().get(status_url(session_id), **with_capability(token))
    assert as_triple(response) == missing_404(user)


@pytest.mark.parametrize("cached", [False, True])
def test_old_rows_with_lone_surrogates_answer_like_the_drf_view(
    session_id, token, user, settings, cached
):
    """SQLite let releases before text validation store lone surrogates: the fast path
    replaces them as the DRF view does, instead of failing every poll with a 500."""
    from django.db import connection

    from .test_hostile_input import plant

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite ever stored lone surrogates")
    plant(session_id, message="m\ud800", version=None)
    if cached:
        use_cache(settings)
    with freeze_time(timezone.now()):
        drf = cookie_client(user).get(status_url(session_id))
        fast = bare_client().get(status_url(session_id), **with_capability(token))
        again = bare_client().get(status_url(session_id), **with_capability(token))

    assert drf.status_code == fast.status_code == again.status_code == 200
    assert fast.content == drf.content == again.content
    assert fast.json()["message"] == "m\ufffd"
