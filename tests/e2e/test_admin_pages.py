"""The progress admin in real Chromium: live bar, file table, history statistics; WCAG 2.1 AA.

Each page is kept as a screenshot in ``test-artifacts/`` (pass or fail), so a reviewer can see
what an administrator sees.
"""

from __future__ import annotations

import pytest

from .conftest import ARTIFACTS

ADMIN_USER = ("e2e-admin", "e2e-admin-password-789")

# Run in the demo site's own database: a superuser, a running session with files, and
# three weeks of history (some failures, two models' worth of labels, two owners).
SEED = """
import random
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from progress_tracking import services
from progress_tracking.models import Knowledge, ProgressHistory

User = get_user_model()
admin = User.objects.filter(username={name!r}).first() or User.objects.create_superuser(
    {name!r}, "admin@example.com", {password!r})
row = Knowledge.objects.create(name="Admin view base", user=admin)
sid = services.start_session(row, files=["minutes.pdf", "interview.wav", "broken.pdf"])
services.update_file_progress(sid, "minutes.pdf", progress=100, status="completed")
services.update_file_progress(sid, "interview.wav", progress=45, message="Transcribing")
services.update_file_progress(sid, "broken.pdf", progress=5, status="error", error="Not a PDF")
done = Knowledge.objects.create(name="Finished base", user=admin)
services.mark_session_complete(services.start_session(done, total_files=0), "All done")
rng = random.Random(14)
now = timezone.now()
ProgressHistory.objects.bulk_create(
    ProgressHistory(
        session_id=f"00000000-0000-4000-8000-{{i:012d}}",
        model_label=rng.choice(["progress_tracking.Knowledge", "reports.Export"]),
        object_id=str(i),
        owner_id=str(admin.pk),
        status="error" if rng.random() < 0.15 else "completed",
        finished_at=now - timedelta(days=rng.randrange(21), minutes=rng.randrange(600)),
        duration_seconds=rng.uniform(5, 240),
        total_files=rng.randrange(1, 40),
    )
    for i in range(300)
)
print(row.pk)
"""


@pytest.fixture
def admin_page(browser, demo_site):
    name, password = ADMIN_USER
    row_pk = demo_site.manage("shell", "-c", SEED.format(name=name, password=password))
    ctx = browser.new_context(base_url=demo_site.base_url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page, row_pk.strip().splitlines()[-1]
    ctx.close()


def keep(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def test_admin_pages_show_progress_and_history(admin_page, assert_accessible):
    page, row_pk = admin_page

    page.goto(f"/admin/progress_tracking/knowledge/{row_pk}/change/")
    bar = page.locator(".progress-tracking-admin [data-progress-tracking]")
    bar.wait_for()
    assert bar.locator("[role=progressbar]").get_attribute("aria-valuenow") == "82"
    rows = page.locator(".progress-tracking-admin__files tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).inner_text().split("\t")[:2] == ["broken.pdf", "Error"]
    raw = page.locator("details.progress-tracking-raw")
    assert raw.evaluate("(node) => node.open") is False
    assert not page.locator("details.progress-tracking-raw pre").is_visible()
    keep(page, "change-page")
    assert_accessible(page, "progress change page")
    raw.locator("summary").click()
    assert page.locator("details.progress-tracking-raw pre").is_visible()

    page.goto("/admin/progress_tracking/knowledge/")
    minis = page.locator("progress.progress-tracking-mini")
    assert minis.count() >= 2
    keep(page, "change-list")
    assert_accessible(page, "progress change list")

    page.goto("/admin/progress_tracking/progresshistory/")
    page.get_by_role("link", name="Statistics per day").click()
    page.wait_for_url("**/progresshistory/statistics/")
    chart = page.locator("svg.progress-history-chart")
    assert chart.get_attribute("role") == "img"
    assert page.locator("svg.progress-history-chart rect.ok").count() == 30
    assert page.locator("#result_list tbody tr").count() >= 15
    keep(page, "history-statistics")
    assert_accessible(page, "history statistics")

    page.select_option("#phs-model", "reports.Export")
    page.click(".progress-history-filters button[type=submit]")
    page.wait_for_url("**model=reports.Export**")
    total = int(page.locator("#content-main h2").inner_text().split()[0])
    assert 0 < total < 300
    assert_accessible(page, "history statistics, filtered")
