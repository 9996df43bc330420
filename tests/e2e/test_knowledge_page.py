"""The seed's scenario in a real browser: upload, watch, reload, second tab, finish, stall."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"
BAR = "#progress [data-progress-tracking]:not([hidden])"


@pytest.fixture
def files(tmp_path):
    """Three files: a text that takes ~10 steps, a real PDF and a corrupt one."""
    big = tmp_path / "handbook.txt"
    big.write_text("A paragraph about the knowledge base and its uses.\n" * 12_000)
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n this is not really a PDF \x00\x01\x02")
    return [str(big), str(SAMPLES / "report.pdf"), str(corrupt)]


def create_knowledge_base(page, name):
    page.goto("/knowledge/")
    page.fill("#id_name", name)
    page.click("#create-form button[type=submit]")
    page.wait_for_url("**/knowledge/*/")
    return page.url


def upload(page, paths):
    page.set_input_files("#upload-files", paths)
    page.click("#upload-form button[type=submit]")
    page.locator(BAR).first.wait_for()
    return page.locator(BAR).first


def value_of(bar) -> float:
    return float(bar.locator("[role=progressbar]").get_attribute("aria-valuenow") or 0)


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_upload_watch_reload_second_tab_and_complete(context, files, assert_accessible):
    page = context.pages[0]
    assert_accessible(page, "list of knowledge bases")
    url = create_knowledge_base(page, "Browser test base")
    assert_accessible(page, "knowledge base without documents")
    bar = upload(page, files)
    session = bar.get_attribute("data-session-id")
    assert session

    # Progress moves while the worker runs: several distinct values, never backwards.
    seen = []
    wait_for(lambda: seen.append(value_of(bar)) or len(set(seen)) >= 3, timeout=30)
    assert seen == sorted(seen)
    assert 0 < max(seen) < 100
    assert bar.get_attribute("data-state") == "processing"
    assert "of 3 files" in bar.locator("[role=progressbar]").get_attribute("aria-valuetext")
    assert_accessible(page, "bar while processing")

    # Reload mid-way: the page shows the same session again and it keeps moving.
    before = value_of(bar)
    page.reload()
    bar = page.locator(BAR).first
    assert bar.get_attribute("data-session-id") == session
    assert value_of(bar) >= before
    wait_for(lambda: value_of(bar) > before or bar.get_attribute("data-state") == "completed")

    # A second tab shows the same progress.
    tab = context.new_page()
    tab.goto(url)
    tab_bar = tab.locator(BAR).first
    assert tab_bar.get_attribute("data-session-id") == session

    # Both tabs end completed; the corrupt file's error is shown per file.
    for shown in (bar, tab_bar):
        wait_for(lambda shown=shown: shown.get_attribute("data-state") == "completed", timeout=60)
        assert value_of(shown) == 100
        failed = shown.locator('[data-file-status="error"]')
        assert failed.count() == 1
        assert "corrupt.pdf" in failed.inner_text()
    assert "1 of 3 files failed" in bar.locator("[data-progress-tracking-message]").inner_text()
    # The document list was refreshed when the batch ended.
    wait_for(lambda: page.locator('#documents [data-document-status="error"]').count() == 1)
    assert page.locator('#documents [data-document-status="completed"]').count() == 2
    assert_accessible(page, "bar completed, one file failed")


def test_work_started_on_another_device_appears_without_reload(
    browser, context, demo_site, tmp_path
):
    # Long enough (~30 steps) to be still running when the page next asks for the list.
    long_file = tmp_path / "long.txt"
    long_file.write_text("Another device uploads this.\n" * 70_000)
    page = context.pages[0]
    url = create_knowledge_base(page, "Two devices")
    assert page.locator(BAR).count() == 0
    other_device = browser.new_context(base_url=demo_site.base_url)
    try:
        other = other_device.new_page()
        other.goto("/accounts/login/")
        other.fill("#id_username", "e2e")
        other.fill("#id_password", "e2e-password-123")
        other.click("button[type=submit]")
        other.goto(url)
        session = upload(other, [str(long_file)]).get_attribute("data-session-id")
    finally:
        other_device.close()
    # The first page finds the running session through the list endpoint.
    page.locator(BAR).first.wait_for(timeout=15_000)
    found = page.locator(BAR).first
    assert found.get_attribute("data-session-id") == session
    # One worker runs the tasks in turn: let this batch end before the next test queues one,
    # or that one would wait longer than the short stale period of these tests.
    wait_for(lambda: found.get_attribute("data-state") == "completed", timeout=90)


def test_a_killed_worker_is_reported_and_its_file_ends_interrupted(
    context, demo_site, files, assert_accessible
):
    page = context.pages[0]
    create_knowledge_base(page, "Worker dies")
    bar = upload(page, files[:1])
    wait_for(lambda: value_of(bar) > 0, timeout=30)
    demo_site.kill_worker()
    try:
        killed_at = time.monotonic()
        wait_for(lambda: bar.get_attribute("data-state") == "error", timeout=60)
        waited = time.monotonic() - killed_at
        message = bar.locator("[data-progress-tracking-message]").inner_text()
        assert "interrupted" in message or "stopped" in message, message
        assert bar.get_attribute("data-error-kind") in {"not_found", "stalled"}
        print(f"\nstall reported {waited:.1f}s after the worker was killed: {message!r}")
        assert_accessible(page, "bar failed (work interrupted)")
    finally:
        demo_site.start_worker()
    # Restarted workers end the file the dead one left: the page says it was interrupted.
    page.reload()
    row = page.locator('#documents [data-document-status="error"]')
    assert row.count() == 1
    assert "interrupted" in row.inner_text()
    assert page.locator('#documents [data-document-status="processing"]').count() == 0
