"""The admin pages as a browser gets them: live bar, file table, folded JSON, history figures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from progress_tracking import history_stats, services
from progress_tracking.history_stats import Finished
from progress_tracking.models import Knowledge, ProgressHistory

pytestmark = pytest.mark.django_db

needs_knowledge_admin = pytest.mark.skipif(
    bool(Knowledge._meta.swapped),
    reason="KnowledgeAdmin is registered only when Knowledge is the progress model",
)
STATS = "admin:progress_tracking_progresshistory_statistics"


@pytest.fixture
def running(knowledge):
    sid = services.start_session(knowledge, files=["a.pdf", "b.wav", "c.txt"])
    services.update_file_progress(sid, "a.pdf", progress=100, status="completed")
    services.update_file_progress(sid, "b.wav", progress=40, message="Transcribing")
    services.update_file_progress(sid, "c.txt", progress=10, status="error", error="<Bad> bytes")
    knowledge.refresh_from_db()
    return knowledge


@needs_knowledge_admin
def test_the_change_page_shows_the_live_bar_a_file_table_and_folds_the_json(admin_client, running):
    url = reverse("admin:progress_tracking_knowledge_change", args=[running.pk])
    html = admin_client.get(url).content.decode()
    sid = str(running.progress_session_id)
    assert f'data-session-id="{sid}"' in html and 'role="progressbar"' in html
    assert "progress_tracking/progress_bar.js" in html
    table = html[html.index('<table class="progress-tracking-admin__files">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr data-file-status="(\w+)"><td>([^<]+)</td><td>(\w+)</td>', table)
    assert rows == [
        ("error", "c.txt", "Error"),
        ("processing", "b.wav", "Processing"),
        ("completed", "a.pdf", "Completed"),
    ]
    assert "&lt;Bad&gt; bytes" in table and "<Bad>" not in table
    assert '<progress value="40" max="100" aria-label="Progress of b.wav">' in table
    folded = html[html.index('<details class="progress-tracking-raw">') :]
    assert folded.index("<summary>Raw JSON</summary>") < folded.index("&quot;session_id&quot;")


@needs_knowledge_admin
def test_a_row_without_progress_says_so(admin_client, knowledge):
    url = reverse("admin:progress_tracking_knowledge_change", args=[knowledge.pk])
    assert "No progress on this row." in admin_client.get(url).content.decode()


@needs_knowledge_admin
def test_the_list_has_a_small_bar_per_row(admin_client, running, make_knowledge):
    make_knowledge(name="idle", meta={"progress_tracking_unrelated": 1})
    html = admin_client.get(reverse("admin:progress_tracking_knowledge_changelist")).content
    bars = re.findall(
        rb'<progress class="progress-tracking-mini" value="([\d.]+)" max="100" '
        rb'aria-label="Progress: ([\d.]+%)">',
        html,
    )
    # (100 + 40 + 100 for the failed file, which is finished) / 3; the idle row has no bar
    assert bars == [(b"80", b"80%")]


def test_percentiles_and_days():
    assert history_stats.percentile([], 0.5) is None
    assert history_stats.percentile([10, 20, 30, 40], 0.5) == 25
    assert history_stats.percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    day = datetime(2026, 3, 2).date()
    records = [
        Finished(day, "completed", 60, 10),
        Finished(day, "error", 120, 2),
        Finished(day, "cancelled", None, 4),
    ]
    first, second = history_stats.daily(records, day - timedelta(days=1), day)
    assert (first.sessions, first.failure_rate, first.median) == (0, None, None)
    assert (second.sessions, second.failed, second.files) == (3, 1, 16)
    assert second.failure_rate == pytest.approx(1 / 3)
    assert (second.median, second.p95) == (90, 117)
    assert second.throughput == pytest.approx(16 / 3)  # 16 files in 3 minutes


def record(
    i,
    *,
    days_ago,
    status="completed",
    duration=60.0,
    model="progress_tracking.Knowledge",
    owner="1",
):
    return ProgressHistory(
        session_id=f"00000000-0000-4000-8000-{i:012d}",
        model_label=model,
        object_id=str(i),
        owner_id=owner,
        status=status,
        finished_at=timezone.now() - timedelta(days=days_ago),
        duration_seconds=duration,
        total_files=3,
    )


@pytest.fixture
def histories(user, other_user):
    ProgressHistory.objects.bulk_create(
        [
            record(1, days_ago=0, duration=30, owner=str(user.pk)),
            record(2, days_ago=0, duration=90, status="error", owner=str(user.pk)),
            record(3, days_ago=2, duration=60, model="multi_app.Export", owner=str(other_user.pk)),
            record(4, days_ago=40, owner=str(user.pk)),
        ]
    )


def stats(client, **params):
    response = client.get(reverse(STATS), params)
    assert response.status_code == 200
    return response


def test_the_statistics_page_shows_each_day_and_a_chart(admin_client, histories, user):
    response = stats(admin_client)
    days = response.context["days"]
    assert len(days) == 30 and response.context["total"] == 3
    today = days[0]
    assert (today.sessions, today.failed, today.median, today.files) == (2, 1, 60, 6)
    html = response.content.decode()
    assert '<svg class="progress-history-chart" role="img"' in html
    assert html.count('<rect class="failed"') == 30
    assert "50% (1)" in html and "60.0 s" in html
    assert f'<option value="{user.pk}">{user}</option>' in html
    assert "<script" not in html.split('<div id="content-main"')[1]


def test_the_statistics_filter_by_model_and_owner(admin_client, histories, user, other_user):
    assert stats(admin_client, model="multi_app.Export").context["total"] == 1
    assert stats(admin_client, owner=str(user.pk)).context["total"] == 2
    assert (
        stats(admin_client, owner=str(other_user.pk), model="multi_app.Export").context["total"]
        == 1
    )
    assert stats(admin_client, days="90").context["total"] == 4
    assert len(stats(admin_client, days="nonsense").context["days"]) == 30
    assert len(stats(admin_client, days="100000").context["days"]) == 366


def test_the_history_list_links_to_the_statistics_and_is_read_only(admin_client, histories):
    response = admin_client.get(reverse("admin:progress_tracking_progresshistory_changelist"))
    html = response.content.decode()
    assert reverse(STATS) in html
    assert "0:01:30" in html  # a duration as h:mm:ss
    assert response.context["has_add_permission"] is False
    filtered = admin_client.get(
        reverse("admin:progress_tracking_progresshistory_changelist"), {"owner": "nobody"}
    )
    assert len(filtered.context["cl"].result_list) == 0


def test_the_statistics_need_the_view_permission(client, user):
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(reverse(STATS)).status_code == 403


def test_the_statistics_cost_the_same_queries_whatever_the_number_of_records(
    admin_client, histories, user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        stats(admin_client)
    ProgressHistory.objects.bulk_create(
        record(100 + i, days_ago=i % 20, owner=str(user.pk)) for i in range(200)
    )
    with CaptureQueriesContext(connection) as many:
        assert stats(admin_client).context["total"] == 203
    assert len(many) == len(few)
