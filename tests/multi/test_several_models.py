"""Six progress models in one site: Knowledge plus the five of ``tests.multi_app``.

Run with ``python -m pytest tests/multi --ds=tests.settings_multi``; under any other settings
module every test here is skipped.
"""

from __future__ import annotations

import uuid
import warnings
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import OperationalError, connections
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from progress_tracking import hosts, selectors, services, signals
from progress_tracking.backfill import backfill_progress_columns
from progress_tracking.checks import check_model
from progress_tracking.models import PROGRESS_KEY, Knowledge, ProgressHistory
from progress_tracking.recorder import ProgressRecorder
from tests.conftest import WRITE_ALIAS

pytestmark = [
    pytest.mark.skipif(
        not apps.is_installed("tests.multi_app"),
        reason="needs tests.multi_app (run with --ds=tests.settings_multi)",
    ),
    pytest.mark.django_db,
]


def model(name):
    return apps.get_model("multi_app", name)


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


def status_url(sid):
    return reverse("progress_tracking:status", kwargs={"session_id": sid})


@pytest.fixture
def rows(user):
    """One row of each of the six models, owned by ``user`` where the model has an owner."""
    return {
        "Knowledge": Knowledge.objects.create(name="k", user=user),
        "Export": model("Export").objects.create(title="e", user=user),
        "Import": model("Import").objects.create(title="i", created_by=user),
        "Report": model("Report").objects.create(title="r"),
        "Upload": model("Upload").objects.create(title="u", uploader=user),
        "Note": model("Note").objects.create(title="n", user=user),
    }


@pytest.fixture
def sessions(rows):
    return {name: services.start_session(row, total_files=1) for name, row in rows.items()}


def test_every_concrete_subclass_is_a_host_and_the_default_comes_first():
    found = [m._meta.label for m in hosts.progress_models()]
    assert found == [
        "progress_tracking.Knowledge",
        "multi_app.Export",
        "multi_app.Import",
        "multi_app.Report",
        "multi_app.Upload",
        "multi_app.Note",
    ]
    # A proxy writes into its concrete model's table and session ids.
    assert hosts.host_of(model("ArchivedUpload")) is model("Upload")


def test_session_ids_are_uuid4_tagged_by_their_model(sessions, rows):
    tags = set()
    for name, sid in sessions.items():
        parsed = uuid.UUID(sid)
        assert parsed.version == 4 and str(parsed) == sid
        assert parsed.hex[8:12] == hosts.tag_of(type(rows[name]))
        tags.add(parsed.hex[8:12])
    assert len(tags) == 6, "ids of different hosts differ"


def test_services_find_each_session_in_its_own_model(
    sessions, rows, django_capture_on_commit_callbacks
):
    received = []

    def on_completed(sender, **kwargs):
        received.append(sender)

    signals.progress_completed.connect(on_completed)
    try:
        for name, sid in sessions.items():
            services.update_progress(sid, progress=100, processed_files=1)
            with django_capture_on_commit_callbacks(execute=True):
                services.mark_session_complete(sid)
            row = type(rows[name])._base_manager.get(pk=rows[name].pk)
            assert row.progress_status == "completed"
            assert services.get_progress(sid)["status"] == "completed"
    finally:
        signals.progress_completed.disconnect(on_completed)
    assert received == [type(r) for r in rows.values()]


def test_a_poll_is_one_progress_query_with_six_models(
    sessions, user, staff_user, django_assert_num_queries
):
    api = client_for(user)
    staff = client_for(staff_user)
    for name, sid in sessions.items():
        client = staff if name == "Report" else api
        # 1 session + 1 user (authentication), then exactly one for the progress.
        with django_assert_num_queries(3):
            response = client.get(status_url(sid))
        assert response.status_code == 200, name
        assert response.json()["session_id"] == sid
    # An unknown id asks every model once before answering 404.
    with django_assert_num_queries(2 + 6):
        assert api.get(status_url(str(uuid.uuid4()))).status_code == 404


def test_owner_rules_follow_each_models_owner_field(sessions, other_user, user):
    api, other = client_for(user), client_for(other_user)
    for name, sid in sessions.items():
        expected = 404 if name == "Report" else 200  # Report has no owner: staff only
        assert api.get(status_url(sid)).status_code == expected, name
        assert other.get(status_url(sid)).status_code == 404, name


def test_the_list_shows_the_callers_running_sessions_of_every_model(
    sessions, user, django_assert_num_queries
):
    api = client_for(user)
    # 2 for authentication, then one per model with an owner field (5 of 6).
    with django_assert_num_queries(2 + 5):
        body = api.get("/api/v1/progress/").json()
    listed = {entry["session_id"] for entry in body["results"]}
    assert listed == {sid for name, sid in sessions.items() if name != "Report"}
    times = [entry["last_updated"] for entry in body["results"]]
    assert times == sorted(times, reverse=True)


def test_delete_clears_the_session_in_its_model(sessions, rows, user):
    sid = sessions["Upload"]
    response = client_for(user).delete(reverse("progress_tracking:detail", args=[sid]))
    assert response.status_code == 200
    upload = model("Upload")._base_manager.get(pk=rows["Upload"].pk)
    assert upload.progress_session_id is None and PROGRESS_KEY not in upload.meta
    assert services.get_progress(sessions["Export"]) is not None


def test_cleanup_sweeps_every_model(sessions):
    with freeze_time(timezone.now() + timedelta(hours=1)):
        out = StringIO()
        call_command("cleanup_progress", "--dry-run", stdout=out)
        assert "Would remove 6 stale progress sessions" in out.getvalue()
        call_command("cleanup_progress", stdout=StringIO())
    for sid in sessions.values():
        assert services.get_progress(sid) is None
    for host in hosts.progress_models():
        assert not host._base_manager.exclude(progress_session_id=None).exists()


def test_rows_the_default_manager_hides_are_still_reached(user, django_capture_on_commit_callbacks):
    """Progress goes through the base manager: a soft-deleted row's session is the same
    session for writes, reads, the API, history and cleanup (``hosts.manager``)."""
    note_model = model("Note")
    kept, hidden = (note_model.objects.create(title=t, user=user) for t in ("kept", "hidden"))
    sid = services.start_session(hidden, files=["a.txt"])
    other = services.start_session(kept)
    note_model.objects.filter(pk=hidden.pk).update(deleted=True)  # soft delete
    assert not note_model.objects.filter(pk=hidden.pk).exists()
    assert hosts.manager(note_model).filter(pk=hidden.pk).exists()

    assert services.update_file_progress(sid, "a.txt", progress=40)["progress"] == 40
    assert services.get_progress(sid)["files"][0]["progress"] == 40
    api = client_for(user)
    assert api.get(status_url(sid)).json()["progress"] == 40
    listed = {s["session_id"] for s in api.get(reverse("progress_tracking:list")).json()["results"]}
    assert listed == {sid, other}
    cancel = reverse("progress_tracking:cancel", args=[sid])
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(cancel).json()["status"] == "cancelled"
    record = ProgressHistory.objects.get(session_id=sid)
    assert record.owner_id == str(user.pk)  # the owner is read from the hidden row
    assert api.delete(reverse("progress_tracking:detail", args=[sid])).status_code == 200
    assert services.get_progress(sid) is None

    again = services.start_session(hidden)
    with freeze_time(timezone.now() + timedelta(hours=1)):
        assert services.cleanup_stale_progress() == 2  # the hidden row's and the kept one's
    assert services.get_progress(again) is None
    assert not hosts.manager(note_model).exclude(progress_session_id=None).exists()


def test_the_cache_follows_a_session_of_a_hidden_row(user, settings):
    from progress_tracking import cache

    settings.CACHES = {
        **settings.CACHES,
        "progress": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "n"},
    }
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "CACHE": "progress"}
    hidden = model("Note").objects.create(title="hidden", user=user, deleted=True)
    sid = services.start_session(hidden)
    cache.get_cache().clear()
    cache.sync_session(sid)  # finds the holding model itself, then reads the row locked
    assert cache.read(cache.get_cache(), sid).progress["session_id"] == sid


@pytest.mark.django_db(transaction=True, databases=["default", WRITE_ALIAS])
def test_write_aliases_name_the_database_of_the_model_a_session_lives_in(write_alias, rows):
    alias = write_alias(model("Export"))
    export = uuid.UUID(services.start_session(rows["Export"]))
    knowledge = uuid.UUID(services.start_session(rows["Knowledge"]))
    assert hosts.write_aliases(export) == [alias]
    assert hosts.write_aliases(knowledge) == ["default"]
    untagged = uuid.UUID(int=0)  # carries no host's tag: every host may hold it
    assert hosts.write_aliases(untagged) == ["default", alias]


@pytest.mark.django_db(transaction=True, databases=["default", WRITE_ALIAS])
def test_a_failed_write_discards_the_connection_of_its_own_database(write_alias, rows, monkeypatch):
    """After a connection error the recorder closes the connection its write used (the
    session's model's database), not the default model's."""
    alias = write_alias(model("Export"))
    sid = services.start_session(rows["Export"])
    written, other = connections[alias], connections["default"]
    if written.vendor == "sqlite":
        pytest.skip("SQLite has no network connection to discard (run on PostgreSQL)")
    written.ensure_connection()
    other.ensure_connection()

    def refused(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "update_file_progress", refused)
    recorder = ProgressRecorder(sid, grace_period=60)
    recorder.file("a.txt", progress=1)  # a status change: written at once, and fails
    assert not recorder.delivering
    assert written.connection is None
    assert other.connection is not None


def test_the_template_tag_renders_a_session_of_any_model(sessions, rows):
    template = Template("{% load progress_tracking %}{% progress_bar row %}")
    html = template.render(Context({"row": rows["Import"]}))
    assert f'data-session-id="{sessions["Import"]}"' in html


def test_an_untagged_legacy_id_is_still_found(rows, user):
    """Ids written before tags existed (seed format, backfilled) are found by asking all."""
    legacy = str(uuid.uuid4())
    while legacy[9:13] in {hosts.tag_of(m) for m in hosts.progress_models()}:
        legacy = str(uuid.uuid4())  # pragma: no cover - 6 in 65,536
    upload = rows["Upload"]
    now = int(timezone.now().timestamp())
    model("Upload")._base_manager.filter(pk=upload.pk).update(
        meta={PROGRESS_KEY: {"session_id": legacy, "status": "processing", "last_updated": now}}
    )
    assert backfill_progress_columns() == 1
    assert services.update_progress(legacy, message="still found")["message"] == "still found"
    assert selectors.session_for_api(legacy).owner_id == user.pk


def test_backfill_keeps_session_ids_unique_across_models(rows):
    shared = str(uuid.uuid4())
    now = int(timezone.now().timestamp())
    seed = {PROGRESS_KEY: {"session_id": shared, "status": "processing", "last_updated": now}}
    for name in ("Export", "Report"):
        model(name)._base_manager.filter(pk=rows[name].pk).update(meta=seed)
    assert backfill_progress_columns(model("Export"), model("Report")) == 1
    assert str(model("Export")._base_manager.get().progress_session_id) == shared
    assert model("Report")._base_manager.get().progress_session_id is None


def test_the_owner_check_names_the_models_own_attribute(monkeypatch):
    monkeypatch.setattr(model("Import"), "progress_owner_field", "title")
    errors = check_model()
    assert [e.id for e in errors] == ["progress_tracking.E002"]
    assert "Import.progress_owner_field is 'title'" in errors[0].msg


def test_knowledge_keyword_still_works_with_a_deprecation_warning(rows):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sid = services.start_session(knowledge=rows["Export"], total_files=1)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "start_session(instance" in str(caught[0].message)
    assert uuid.UUID(sid).hex[8:12] == hosts.tag_of(model("Export"))


def test_admin_mixin_alone_gives_columns_filter_search_fields_and_actions(admin_client, rows):
    sid = services.start_session(rows["Export"], total_files=1)
    changelist = reverse("admin:multi_app_export_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    cl = response.context["cl"]
    assert "progress_status_display" in cl.list_display
    assert "progress_session_id" in cl.list_display
    assert any(getattr(f, "parameter_name", "") == "progress" for f in cl.filter_specs)
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert {"clear_progress_action", "mark_failed_action"} <= set(choices)
    found = admin_client.get(changelist, {"q": sid}).context["cl"].result_list
    assert [row.pk for row in found] == [rows["Export"].pk]
    change = admin_client.get(reverse("admin:multi_app_export_change", args=[rows["Export"].pk]))
    html = change.content.decode()
    assert sid in html and "meta_pretty" not in change.context["adminform"].form.fields


def test_admin_mixin_keeps_what_the_host_declares(admin_client, rows):
    services.start_session(rows["Import"], total_files=1)
    response = admin_client.get(reverse("admin:multi_app_import_changelist"))
    cl = response.context["cl"]
    assert list(cl.list_display)[:3] == ["action_checkbox", "title", "created_by"]
    assert "progress_percent" in cl.list_display
    assert "title" in cl.search_fields and "progress_session_id" in cl.search_fields
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert {"mark_reviewed", "clear_progress_action", "mark_failed_action"} <= set(choices)
    change = admin_client.get(reverse("admin:multi_app_import_change", args=[rows["Import"].pk]))
    fieldsets = change.context["adminform"].fieldsets
    assert fieldsets[0] == (None, {"fields": ("title", "created_by")})
    assert fieldsets[-1][1]["fields"] == [
        "progress_session_id",
        "progress_status",
        "progress_updated_at",
        "progress_overview",
        "meta_pretty",
    ]


def test_history_records_which_model_and_whose_row(
    sessions, rows, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for sid in sessions.values():
            services.mark_session_error(sid, "stopped")
    found = {(r.model_label, r.object_id, r.owner_id) for r in ProgressHistory.objects.all()}
    owner = str(user.pk)
    assert found == {
        ("progress_tracking.Knowledge", str(rows["Knowledge"].pk), owner),
        ("multi_app.Export", str(rows["Export"].pk), owner),
        ("multi_app.Import", str(rows["Import"].pk), owner),
        ("multi_app.Report", str(rows["Report"].pk), ""),
        ("multi_app.Upload", str(rows["Upload"].pk), owner),
        ("multi_app.Note", str(rows["Note"].pk), owner),
    }


def test_capability_polls_find_each_session_in_its_own_model(
    rows, user, settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """The fast path (cache kept by the writes, and without a cache) reads the session from
    whichever model holds it, with its owner taken from that model's own owner field."""
    from progress_tracking import cache, capability

    settings.CACHES = {
        **settings.CACHES,
        "progress": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "m"},
    }
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "CACHE": "progress"}
    cache.get_cache().clear()
    owned = ("Export", "Import", "Upload")  # not Knowledge, the default model
    with django_capture_on_commit_callbacks(execute=True):
        sids = {name: services.start_session(rows[name], total_files=1) for name in owned}
        for name, sid in sids.items():
            services.update_progress(sid, message=f"{name} at work")
    cookie = client_for(user)
    for name, sid in sids.items():
        token = capability.sign_read_capability(sid, user.pk)
        headers = {capability.META_KEY: token}
        with freeze_time(timezone.now()):  # both bodies' elapsed_seconds at one moment
            with django_assert_num_queries(0):
                fast = APIClient().get(status_url(sid), **headers)
            expected = cookie.get(status_url(sid))
        assert fast.status_code == 200, name
        assert fast.content == expected.content, name
        assert fast["ETag"] == expected["ETag"], name
        with django_assert_num_queries(0):
            again = APIClient().get(status_url(sid), HTTP_IF_NONE_MATCH=fast["ETag"], **headers)
        assert again.status_code == 304, name
    # Without the model given, a sync finds the session's model by itself.
    cache.get_cache().clear()
    cache.sync_session(sids["Import"])
    assert cache.read(cache.get_cache(), sids["Import"]).progress["message"] == "Import at work"
    # A clear in a non-default model reaches the cache: the next poll is a 404, no query.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.clear_progress(sids["Upload"]) is True
    token = capability.sign_read_capability(sids["Upload"], user.pk)
    with django_assert_num_queries(0):
        gone = APIClient().get(status_url(sids["Upload"]), **{capability.META_KEY: token})
    assert gone.status_code == 404


def test_capability_polls_without_a_cache_are_one_query_in_any_model(
    rows, user, django_assert_num_queries
):
    from progress_tracking import capability

    for name in ("Export", "Import", "Upload"):
        sid = services.start_session(rows[name], total_files=1)
        token = capability.sign_read_capability(sid, user.pk)
        with django_assert_num_queries(1):
            fast = APIClient().get(status_url(sid), **{capability.META_KEY: token})
        assert fast.status_code == 200, name
        assert fast.json()["session_id"] == sid
        assert capability.HEADER not in fast  # answered by the fast path, not the DRF view
