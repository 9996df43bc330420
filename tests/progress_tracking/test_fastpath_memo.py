"""The per-process memo of the fast path's cache reads (``cache.read_for_poll``).

Each rule of the fast path, with a process that answers repeated polls from what it read less
than ``MEMO_TTL`` ago. A write "in another process" is what that process's ``sync_session``
does to the shared cache: it replaces the record, and this process is not told.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from progress_tracking import cache, capability, selectors, services

from .fastpath_helpers import bare_client, status_url, use_cache, with_capability
from .test_fastpath import as_triple, missing_404

JUST_UNDER_TTL = timedelta(seconds=cache.MEMO_TTL * 0.8)
PAST_TTL = timedelta(seconds=cache.MEMO_TTL * 1.2)


@pytest.fixture
def store(settings):
    return use_cache(settings)


@pytest.fixture
def reads(store, monkeypatch):
    """How many times the shared cache is read (a Redis round trip each)."""
    counted = []
    real = store.get

    def get(key, *args, **kwargs):
        counted.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(store, "get", get)
    return counted


@pytest.fixture
def session_id(knowledge, write, store):
    return write(services.start_session, knowledge, total_files=0, message="Queued")


@pytest.fixture
def token(session_id, user):
    return capability.sign_read_capability(session_id, user.pk)


def written_elsewhere(store, session_id: str, function, *args, **kwargs) -> cache.CachedStatus:
    """A write committed by another process: the shared cache follows, this process's memo
    is not told (no after-commit work runs here). Returns the record now in the cache."""
    function(*args, **kwargs)
    found = selectors.session_for_api(session_id)
    if found is None:
        record = cache.tombstone()
    else:
        record = cache.build_record(found.progress, found.owner_id, found.updated_at)
    store.set(cache.key_for(session_id), record)
    return record


def poll(session_id: str, token: str, etag: str | None = None):
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return bare_client().get(status_url(session_id), **with_capability(token, **headers))


def test_polls_within_the_ttl_read_the_cache_once(
    session_id, token, reads, django_assert_num_queries
):
    with freeze_time(timezone.now()) as clock:
        with django_assert_num_queries(0):
            first = poll(session_id, token)
            clock.tick(JUST_UNDER_TTL)
            again = poll(session_id, token, first["ETag"])
        assert reads == [cache.key_for(session_id)]
        clock.tick(PAST_TTL)
        with django_assert_num_queries(0):
            later = poll(session_id, token, first["ETag"])

    assert (first.status_code, again.status_code, later.status_code) == (200, 304, 304)
    assert len(reads) == 2


def test_a_write_elsewhere_shows_once_the_ttl_has_passed(session_id, token, store, reads):
    with freeze_time(timezone.now()) as clock:
        first = poll(session_id, token)
        written_elsewhere(store, session_id, services.update_progress, session_id, message="new")
        clock.tick(JUST_UNDER_TTL)
        meanwhile = poll(session_id, token, first["ETag"])
        clock.tick(PAST_TTL - JUST_UNDER_TTL)
        after = poll(session_id, token, first["ETag"])

    assert meanwhile.status_code == 304  # this process's copy, at most MEMO_TTL old
    assert after.status_code == 200
    assert after.json()["message"] == "new"


def test_a_client_that_has_seen_newer_is_never_answered_from_the_memo(
    session_id, token, store, reads
):
    """It saw the newer version from another process: this one reads the cache again."""
    with freeze_time(timezone.now()):
        first = poll(session_id, token)
        newer = written_elsewhere(
            store, session_id, services.update_progress, session_id, message="new"
        )
        answer = poll(session_id, token, newer.etag)
        behind = poll(session_id, token, first["ETag"])

    assert answer.status_code == 304
    assert answer["ETag"] == newer.etag
    assert len(reads) == 2  # the first poll, then the one that had seen newer
    # What this process now holds is the newer record, for every client.
    assert behind.status_code == 200
    assert behind["ETag"] == newer.etag


def test_a_write_in_this_process_shows_on_the_next_poll(session_id, token, write, reads):
    with freeze_time(timezone.now()):
        first = poll(session_id, token)
        write(services.update_progress, session_id, message="written here")
        after = poll(session_id, token, first["ETag"])

    assert after.status_code == 200
    assert after.json()["message"] == "written here"
    assert len(reads) == 2


@pytest.mark.parametrize(
    "final",
    [
        lambda sid: services.mark_session_complete(sid, message="done"),
        lambda sid: services.mark_session_error(sid, "boom"),
        services.request_cancel,
    ],
    ids=["completed", "error", "cancelled"],
)
def test_a_final_state_is_never_masked(session_id, token, store, write, final):
    """Written here: the next poll shows it. Written elsewhere: the next poll a second later."""
    with freeze_time(timezone.now()) as clock:
        first = poll(session_id, token)
        written_elsewhere(store, session_id, final, session_id)
        clock.tick(timedelta(seconds=1))
        elsewhere = poll(session_id, token, first["ETag"])
    assert elsewhere.json()["status"] in ("completed", "error", "cancelled")

    other = write(services.start_session, another_row(session_id), total_files=0)
    other_token = capability.sign_read_capability(other, capability.verify(token).user_pk)
    with freeze_time(timezone.now()):
        seen = poll(other, other_token)
        write(final, other)
        here = poll(other, other_token, seen["ETag"])
    assert here.json()["status"] == elsewhere.json()["status"]


def another_row(session_id: str):
    """A new row of the session's owner (a session id is never reused)."""
    from progress_tracking.models import get_progress_model

    model = get_progress_model()
    row = model._base_manager.get(progress_session_id=session_id)
    values = {"name": "Another"} if hasattr(model, "name") else {}
    from progress_tracking.conf import app_settings

    values[app_settings.OWNER_FIELD] = getattr(row, app_settings.OWNER_FIELD)
    return model.objects.create(**values)


def test_clear_and_cleanup_in_this_process_take_effect_on_the_next_poll(
    session_id, token, write, user, make_knowledge, django_assert_num_queries
):
    other = write(services.start_session, make_knowledge(owner=user))
    other_token = capability.sign_read_capability(other, user.pk)
    now = timezone.now()
    with freeze_time(now):
        assert poll(session_id, token).status_code == 200
        write(services.clear_progress, session_id)
        cleared = poll(session_id, token)
    with freeze_time(now + timedelta(seconds=301)):
        assert poll(other, other_token).status_code == 404  # stale: its record says so
    with freeze_time(now + timedelta(seconds=100)):
        assert poll(other, other_token).status_code == 200
        cache.forget_sessions([other])  # what cleanup does after removing it
        with django_assert_num_queries(0):
            removed = poll(other, other_token)

    assert as_triple(cleared) == missing_404(user)
    assert as_triple(removed) == missing_404(user)


def test_a_clear_elsewhere_shows_within_a_second(session_id, token, store, user):
    with freeze_time(timezone.now()) as clock:
        assert poll(session_id, token).status_code == 200
        written_elsewhere(store, session_id, services.clear_progress, session_id)
        clock.tick(timedelta(seconds=1))
        response = poll(session_id, token)

    assert as_triple(response) == missing_404(user)


def test_ownership_is_checked_on_every_poll(session_id, token, other_user, reads):
    stolen = capability.sign_read_capability(session_id, other_user.pk)
    with freeze_time(timezone.now()):
        assert poll(session_id, token).status_code == 200
        refused = poll(session_id, stolen)
        owner = poll(session_id, token)

    assert refused.status_code in (401, 403)  # the DRF view: no credentials
    assert owner.status_code == 200
    assert len(reads) == 1  # the owner's record was remembered, and still refused Bob


def test_expiry_is_checked_on_every_poll(session_id, token, reads, user):
    found = selectors.session_for_api(session_id)
    stale_at = found.updated_at + timedelta(seconds=300)
    with freeze_time(stale_at - timedelta(seconds=cache.MEMO_TTL * 0.3)) as clock:
        assert poll(session_id, token).status_code == 200
        clock.tick(timedelta(seconds=cache.MEMO_TTL * 0.6))
        response = poll(session_id, token)
        assert as_triple(response) == missing_404(user)

    assert len(reads) == 1  # answered from the memo, and still found stale


def test_a_read_overtaken_by_a_write_of_this_process_is_not_kept(session_id, store, write):
    """A poll's cache read and a write (another thread) cross: the poll's copy is dropped."""
    key = cache.key_for(session_id)
    before = cache.read(store, session_id)

    class Crossing:
        def get(self, key):
            write(services.update_progress, session_id, message="while reading")
            return before

    first = cache.read_for_poll(Crossing(), key, lambda record: True)
    second = cache.read_for_poll(store, key, lambda record: True)

    assert first == before
    assert second.version > before.version


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(cache, "MEMO_SIZE", 8)
    record = cache.tombstone()

    class Always:
        def get(self, key):
            return record

    for _ in range(20):
        cache.read_for_poll(Always(), str(uuid.uuid4()), lambda kept: True)

    assert 0 < len(cache._memo) <= 8


def test_changing_settings_forgets_what_was_read(session_id, token, store, settings, reads):
    with freeze_time(timezone.now()):
        assert poll(session_id, token).status_code == 200
        settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "POLL_INTERVAL": 2}
        response = poll(session_id, token)

    assert response["X-Poll-Interval"] == "2"
    assert len(reads) == 2
