"""The Knowledge admin: progress columns, filter, search, actions and the readable ``meta``."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from progress_tracking import services
from progress_tracking.models import PROGRESS_KEY, CleanupLease, Knowledge

pytestmark = pytest.mark.skipif(
    bool(Knowledge._meta.swapped),
    reason="KnowledgeAdmin is registered only when Knowledge is the progress model",
)

CHANGELIST = "admin:progress_tracking_knowledge_changelist"


def changelist(client, **params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return response


def shown(response):
    return {row.pk for row in response.context["cl"].result_list}


def change_url(row):
    return reverse("admin:progress_tracking_knowledge_change", args=[row.pk])


def act(client, action, rows):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [r.pk for r in rows]},
        follow=True,
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def rows(make_knowledge, user):
    """One row per progress state, plus one without progress."""
    running = make_knowledge(owner=user, name="Alpha base", meta={"source": "upload"})
    running_id = services.start_session(running, total_files=2)
    services.update_progress(running_id, progress=42.5, message="Halfway", current_file="b.pdf")
    done = make_knowledge(name="Beta base")
    services.mark_session_complete(services.start_session(done, total_files=0), "All done")
    failed = make_knowledge(name="Gamma base")
    services.mark_session_error(services.start_session(failed), "disk full")
    idle = make_knowledge(name="Delta base", meta={"host": True})
    for row in (running, done, failed, idle):
        row.refresh_from_db()
    return {"running": running, "done": done, "failed": failed, "idle": idle}


def test_list_shows_the_progress_columns(admin_client, rows):
    response = changelist(admin_client)
    assert list(response.context["cl"].list_display)[-6:] == [
        "progress_status_display",
        "progress_percent",
        "current_file",
        "progress_message",
        "progress_updated_at",
        "progress_session_id",
    ]
    html = response.content.decode()
    for header in (
        "status",
        "progress",
        "current file",
        "message",
        "progress updated at",
        "progress session id",
    ):
        assert f">{header.capitalize()}<" in html or header in html.lower()
    running = rows["running"]
    assert str(running.progress_session_id) in html
    for text in (
        "42.5%",
        "b.pdf",
        "Halfway",
        "Processing",
        "Completed",
        "All done",
        "Error",
        "Processing failed.",
    ):
        assert text in html, text
    assert len(response.context["cl"].result_list) == 4


def test_list_query_count_does_not_grow_with_rows(admin_client, rows, make_knowledge, user):
    with CaptureQueriesContext(connection) as few:
        changelist(admin_client)
    for i in range(10):
        services.start_session(make_knowledge(owner=user, name=f"more {i}"))
    with CaptureQueriesContext(connection) as many:
        response = changelist(admin_client)
    assert len(response.context["cl"].result_list) == 14
    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("processing", {"running"}),
        ("completed", {"done"}),
        ("error", {"failed"}),
        ("none", {"idle"}),
        ("bogus", {"running", "done", "failed", "idle"}),
    ],
)
def test_filter_by_status(admin_client, rows, value, expected):
    response = changelist(admin_client, progress=value)
    assert shown(response) == {rows[name].pk for name in expected}


def test_filter_offers_every_status(admin_client, rows):
    html = changelist(admin_client).content.decode()
    for choice in (
        "?progress=processing",
        "?progress=completed",
        "?progress=error",
        "?progress=stale",
        "?progress=none",
    ):
        assert choice in html


def age(row, seconds):
    """Make a row's progress ``seconds`` old, as if nothing had written it since."""
    Knowledge.objects.filter(pk=row.pk).update(
        progress_updated_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("processing", {"running"}),
        ("completed", {"done"}),
        ("error", set()),
        ("stale", {"dead", "failed"}),
    ],
)
def test_filters_never_list_what_readers_treat_as_stale(
    admin_client, rows, make_knowledge, value, expected
):
    rows["dead"] = make_knowledge(name="Dead worker")
    services.start_session(rows["dead"], total_files=1)
    age(rows["dead"], 301)  # STALE_AFTER is 300 s
    age(rows["running"], 299)
    age(rows["failed"], 301)  # FINISHED_TTL is 300 s
    response = changelist(admin_client, progress=value)
    assert shown(response) == {rows[name].pk for name in expected}


def test_stale_sessions_are_marked_in_the_list(admin_client, rows):
    age(rows["running"], 301)
    html = changelist(admin_client).content.decode()
    assert "Processing (stale)" in html
    assert html.count("(stale)") == 1


def test_automatic_cleanup_is_shown_read_only(admin_client, make_knowledge):
    CleanupLease.objects.create(
        name="stale-progress", due_at=timezone.now(), last_removed=12, last_error=""
    )
    url = reverse("admin:progress_tracking_cleanuplease_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "stale-progress" in response.content.decode()
    assert response.context["cl"].result_list[0].last_removed == 12
    assert not response.context["has_add_permission"]
    change = reverse("admin:progress_tracking_cleanuplease_change", args=["stale-progress"])
    assert admin_client.post(change, {"last_removed": 0}).status_code == 403


def test_search_by_session_id_uses_the_indexed_column(admin_client, rows):
    running = rows["running"]
    sid = str(running.progress_session_id)
    for term in (sid, sid.upper(), f"  {sid} ", running.progress_session_id.hex):
        with CaptureQueriesContext(connection) as queries:
            response = changelist(admin_client, q=term)
        assert shown(response) == {running.pk}, term
        table = Knowledge._meta.db_table
        sql = [q["sql"] for q in queries if table in q["sql"] and "progress_session_id" in q["sql"]]
        assert sql and not any("LIKE" in s.upper() for s in sql)
    assert shown(changelist(admin_client, q=str(uuid.uuid4()))) == set()


def test_search_by_name(admin_client, rows):
    assert shown(changelist(admin_client, q="gamma")) == {rows["failed"].pk}
    assert shown(changelist(admin_client, q="base")) == {r.pk for r in rows.values()}
    assert shown(changelist(admin_client, q="nothing like it")) == set()


def test_clear_progress_action_keeps_rows_and_host_keys(admin_client, rows):
    selected = [rows["running"], rows["done"], rows["idle"]]
    session = rows["running"].progress_session_id
    response = act(admin_client, "clear_progress_action", selected)
    assert response.status_code == 200
    assert messages_of(response) == ["Cleared progress of 2 rows."]
    assert Knowledge.objects.count() == 4
    for row in selected:
        row.refresh_from_db()
        assert PROGRESS_KEY not in row.meta and row.progress_session_id is None
    assert rows["running"].meta == {"source": "upload"}
    assert rows["idle"].meta == {"host": True}
    assert services.get_progress(session) is None
    rows["failed"].refresh_from_db()
    assert rows["failed"].progress_status == "error"


def test_clear_progress_action_with_one_row_says_row(admin_client, rows):
    response = act(admin_client, "clear_progress_action", [rows["failed"]])
    assert messages_of(response) == ["Cleared progress of 1 row."]


def test_mark_failed_action_fails_only_running_sessions(admin_client, rows):
    response = act(admin_client, "mark_failed_action", list(rows.values()))
    assert messages_of(response) == ["Marked 1 session as failed."]
    progress = services.get_progress(rows["running"].progress_session_id)
    assert progress["status"] == "error"
    assert progress["error"].startswith("Marked as failed by admin at ")
    assert services.get_progress(rows["done"].progress_session_id)["status"] == "completed"
    failed = services.get_progress(rows["failed"].progress_session_id)
    assert failed["error"] == "disk full"
    rows["running"].refresh_from_db()
    assert rows["running"].meta["source"] == "upload"


def test_mark_failed_action_skips_sessions_cleared_meanwhile(admin_client, rows, monkeypatch):
    running = rows["running"]
    original = services.mark_session_error

    def cleared_first(session_id, error):
        services.clear_progress(session_id)
        return original(session_id, error)

    monkeypatch.setattr(services, "mark_session_error", cleared_first)
    response = act(admin_client, "mark_failed_action", [running])
    assert response.status_code == 200
    assert messages_of(response) == ["Marked 0 sessions as failed."]


def test_detail_page_shows_meta_readable_and_escaped(admin_client, make_knowledge):
    row = make_knowledge(name="Detail", meta={"<b>host</b>": "x & y", "n": [1, 2]})
    sid = services.start_session(row, total_files=1, message="Queued")
    response = admin_client.get(change_url(row))
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;b&gt;host&lt;/b&gt;" in html and "<b>host</b>" not in html
    assert "x &amp; y" in html
    assert f"&quot;session_id&quot;: &quot;{sid}&quot;" in html
    assert "&quot;processing_progress&quot;: {" in html
    assert 'name="meta"' not in html  # readable, not editable
    form = response.context["adminform"].form
    assert "meta" not in form.fields and "progress_status" not in form.fields


@pytest.mark.parametrize(
    "meta",
    [
        [1, 2],
        "text",
        {PROGRESS_KEY: "garbage"},
        {PROGRESS_KEY: {"progress": "50", "current_file": 7, "message": None}},
        {PROGRESS_KEY: {"progress": True}},
        {PROGRESS_KEY: {"progress": 33.333333}},
    ],
    ids=repr,
)
def test_odd_meta_never_breaks_the_list_or_the_detail_page(admin_client, make_knowledge, meta):
    row = make_knowledge(name="Odd")
    Knowledge.objects.filter(pk=row.pk).update(meta=meta)
    assert changelist(admin_client).status_code == 200
    assert admin_client.get(change_url(row)).status_code == 200


def test_saving_the_form_never_writes_progress_back(admin_client, knowledge):
    sid = services.start_session(knowledge, total_files=2)
    table = Knowledge._meta.db_table
    updates = []

    def worker_writes_meanwhile(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and table in sql and not updates:
            updates.append(sql)
            # A worker writes after the admin loaded the row, before the admin saves it.
            services.update_progress(sid, progress=50, message="from the worker")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(worker_writes_meanwhile):
        response = admin_client.post(
            change_url(knowledge),
            {"name": "Renamed", "description": "New", "user": knowledge.user_id, "_save": "Save"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    # The form's save writes no progress column; meta keeps the stored progress key.
    assert updates and '"progress_status"' not in updates[0]
    knowledge.refresh_from_db()
    assert (knowledge.name, knowledge.description) == ("Renamed", "New")
    progress = services.get_progress(sid)
    assert (progress["progress"], progress["message"]) == (50, "from the worker")


def test_adding_a_row_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:progress_tracking_knowledge_add"),
        {"name": "Made by hand", "description": "", "user": "", "_save": "Save"},
    )
    assert response.status_code == 302
    row = Knowledge.objects.get(name="Made by hand")
    assert row.meta == {} and row.progress_session_id is None


def test_non_staff_cannot_open_the_admin(client, user):
    client.force_login(user)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_filter_lists_cancelled_sessions(admin_client, rows, make_knowledge):
    rows["cancelled"] = make_knowledge(name="Cancelled batch")
    services.request_cancel(services.start_session(rows["cancelled"], files=["a.wav"]))
    html = changelist(admin_client).content.decode()
    assert "?progress=cancelled" in html
    assert shown(changelist(admin_client, progress="cancelled")) == {rows["cancelled"].pk}
    age(rows["cancelled"], 301)  # FINISHED_TTL is 300 s: awaiting cleanup
    assert shown(changelist(admin_client, progress="cancelled")) == set()
    assert rows["cancelled"].pk in shown(changelist(admin_client, progress="stale"))
