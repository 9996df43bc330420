"""A host stores progress on its own model: ``PROGRESS_TRACKING_MODEL = "swapped_app.Document"``.

Run with ``python -m pytest tests/swapped --ds=tests.settings_swapped``; under any other
settings module every test here is skipped.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from progress_tracking import services, signals
from progress_tracking.checks import check_model, check_settings
from progress_tracking.models import PROGRESS_KEY, Knowledge, get_progress_model
from tests.progress_tracking.test_indexes import assert_indexed, captured_plans

SWAPPED_MODEL = "swapped_app.Document"

pytestmark = pytest.mark.skipif(
    getattr(settings, "PROGRESS_TRACKING_MODEL", None) != SWAPPED_MODEL,
    reason=f"needs PROGRESS_TRACKING_MODEL = {SWAPPED_MODEL!r} "
    "(run with --ds=tests.settings_swapped)",
)


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


def status_url(session_id):
    return reverse("progress_tracking:status", kwargs={"session_id": session_id})


def test_get_progress_model_returns_the_host_model(document_model):
    assert get_progress_model() is document_model
    assert document_model._meta.label == "swapped_app.Document"


def test_knowledge_is_swapped_out_and_has_no_table(db):
    assert Knowledge._meta.swapped == SWAPPED_MODEL
    tables = connection.introspection.table_names()
    assert "progress_tracking_knowledge" not in tables
    assert "swapped_app_document" in tables
    with pytest.raises(AttributeError, match="swapped"):
        Knowledge.objects.count()


def test_system_checks_pass(db):
    assert check_settings() == []
    assert check_model() == []
    errors = [e for e in checks.run_checks() if e.level >= checks.ERROR]
    assert errors == []


def test_owner_field_must_exist_on_the_host_model(settings):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "OWNER_FIELD": "user"}
    assert [e.id for e in check_model()] == ["progress_tracking.E002"]


def test_make_knowledge_fixture_builds_documents(make_knowledge, user, document_model):
    row = make_knowledge(owner=user, title="From the fixture")
    assert isinstance(row, document_model) and row.owner == user


def test_services_end_to_end_on_the_host_model(document, django_capture_on_commit_callbacks):
    received = []

    def handler(sender, session_id, progress, **kwargs):
        received.append((sender, progress["status"]))

    signals.progress_completed.connect(handler)
    try:
        sid = services.start_session(document, files=["p1.pdf", "p2.pdf"], message="Queued")
        document.refresh_from_db()
        assert document.progress_session_id == uuid.UUID(sid)
        services.update_file_progress(sid, "p1.pdf", progress=100, status="completed")
        half = services.update_file_progress(sid, "p2.pdf", progress=40, message="Page 4")
        assert half["current_file"] == "p2.pdf" and 50 < half["progress"] < 100
        assert services.get_progress(sid)["message"] == "Page 4"
        services.heartbeat(sid)
        services.update_file_progress(sid, "p2.pdf", progress=100, status="completed")
        with django_capture_on_commit_callbacks(execute=True):
            done = services.mark_session_complete(sid, "Indexed")
    finally:
        signals.progress_completed.disconnect(handler)
    assert (done["status"], done["progress"], done["processed_files"]) == ("completed", 100, 2)
    assert received == [(type(document), "completed")]
    document.refresh_from_db()
    assert document.meta["source"] == "scanner"
    assert document.progress_status == "completed"
    assert document.meta[PROGRESS_KEY]["session_id"] == sid
    assert services.clear_progress(sid) is True
    document.refresh_from_db()
    assert document.meta == {"source": "scanner"} and document.progress_session_id is None
    assert type(document).objects.filter(pk=document.pk).exists()


def test_errors_and_final_states_on_the_host_model(document):
    sid = services.start_session(document)
    failed = services.mark_session_error(sid, "OCR engine crashed")
    assert failed["error"] == "OCR engine crashed"
    assert services.update_progress(sid, progress=10) == failed


def test_cleanup_command_sweeps_the_host_model(document, make_knowledge):
    with freeze_time(timezone.now()) as clock:
        sid = services.start_session(document)
        clock.tick(timedelta(seconds=301))
        fresh = services.start_session(make_knowledge(title="fresh"))
        out = StringIO()
        call_command("cleanup_progress", stdout=out)
        assert out.getvalue().startswith("Removed 1 stale progress session ")
        assert services.get_progress(sid) is None
        assert services.get_progress(fresh) is not None
    document.refresh_from_db()
    assert document.meta == {"source": "scanner"}


def test_api_uses_the_owner_field_of_the_host_model(document, other_user, staff_user):
    sid = services.start_session(document, total_files=1)
    owner = client_for(document.owner)
    response = owner.get(status_url(sid))
    assert response.status_code == 200
    assert response.json()["session_id"] == sid
    assert client_for(other_user).get(status_url(sid)).status_code == 404
    assert client_for(staff_user).get(status_url(sid)).status_code == 200
    listed = owner.get(reverse("progress_tracking:list")).json()["results"]
    assert [body["session_id"] for body in listed] == [sid]
    assert client_for(other_user).get(reverse("progress_tracking:list")).json() == {"results": []}
    cleared = owner.delete(reverse("progress_tracking:detail", kwargs={"session_id": sid}))
    assert cleared.status_code == 200
    assert owner.get(status_url(sid)).status_code == 404


@pytest.fixture
def many_documents(db, document_model):
    now = timezone.now()
    rows = []
    for i in range(5000):
        row = document_model(title=f"doc {i}", meta={"host": i})
        if i % 10 == 0:
            sid = uuid.uuid4()
            row.meta[PROGRESS_KEY] = {"session_id": str(sid), "status": "processing"}
            row.progress_session_id, row.progress_status = sid, "processing"
            row.progress_updated_at = now - timedelta(hours=1) if i % 1000 == 0 else now
        rows.append(row)
    document_model.objects.bulk_create(rows, batch_size=1000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {document_model._meta.db_table}")
    return document_model


def test_session_lookups_use_the_index_of_the_host_table(many_documents):
    assert get_progress_model()._meta.db_table == "swapped_app_document"
    session = many_documents.objects.exclude(progress_session_id=None).last().progress_session_id
    plans = captured_plans(lambda: services.get_progress(session))
    assert len(plans) == 1
    assert_indexed(plans[0])
    assert "swapped_app_document" in plans[0] or connection.vendor == "postgresql"
    for plan in captured_plans(lambda: services.heartbeat(session)):
        assert_indexed(plan)
    for plan in captured_plans(lambda: services.cleanup_stale_progress(dry_run=True)):
        assert_indexed(plan)


def test_admin_mixin_on_the_host_model(client, document, staff_user):
    sid = services.start_session(document, total_files=2)
    services.update_progress(sid, progress=25, message="Scanning", current_file="p1.pdf")
    admin = type(staff_user).objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    url = reverse("admin:swapped_app_document_changelist")
    response = client.get(url, {"q": sid})
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Quarterly report", "25%", "p1.pdf", "Scanning", sid):
        assert text in html
    assert [r.pk for r in response.context["cl"].result_list] == [document.pk]
    assert client.get(url, {"progress": "completed"}).context["cl"].result_count == 0
    response = client.post(
        url, {"action": "clear_progress_action", "_selected_action": [document.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Cleared progress of 1 row."]
    assert services.get_progress(sid) is None
    detail = client.get(reverse("admin:swapped_app_document_change", args=[document.pk]))
    assert "&quot;source&quot;: &quot;scanner&quot;" in detail.content.decode()


@pytest.mark.django_db(transaction=True)
def test_migration_0002_is_a_no_op_when_knowledge_is_swapped():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("progress_tracking", "0001_initial")])
        MigrationExecutor(connection).migrate([("progress_tracking", "0002_index_seed_progress")])
        assert "progress_tracking_knowledge" not in connection.introspection.table_names()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_swapped_app_has_its_migration(document_model):
    executor = MigrationExecutor(connection)
    assert ("swapped_app", "0001_initial") in executor.loader.applied_migrations
    assert apps.get_app_config("swapped_app").label == "swapped_app"
