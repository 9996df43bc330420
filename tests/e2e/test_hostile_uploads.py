"""Hostile uploads through the real web server and workers: nothing stuck, nobody starved."""

from __future__ import annotations

import time

from tests.knowledge.hostile import long_name, noise_wav, shared_stream_pdf

from .conftest import MAX_UPLOAD_BYTES, OTHER_USER, log_in
from .test_knowledge_page import BAR, create_knowledge_base, upload, wait_for


def test_login_page_is_accessible(browser, demo_site, assert_accessible):
    ctx = browser.new_context(base_url=demo_site.base_url)
    try:
        page = ctx.new_page()
        page.goto("/accounts/login/")
        assert_accessible(page, "login page")
    finally:
        ctx.close()


def test_hostile_files_all_end_and_the_batch_completes(context, tmp_path, assert_accessible):
    exact = noise_wav(tmp_path / "noise-exact.wav", frames_of_960=34)
    mid_frame = noise_wav(tmp_path / "noise-mid-frame.wav", frames_of_960=34, extra_bytes=480)
    # The attack's file: 1,000 pages sharing one stream of ~1 million operators (~170 KB).
    crafted = shared_stream_pdf(tmp_path / "crafted.pdf", pages=1000, operators=980_000)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"text\x00\x01\x02")
    page = context.pages[0]
    create_knowledge_base(page, "Hostile files")
    started = time.monotonic()
    bar = upload(page, [str(exact), str(mid_frame), str(crafted), str(binary)])
    wait_for(lambda: bar.get_attribute("data-state") == "completed", timeout=90)
    print(f"\nhostile batch of 4 ended after {time.monotonic() - started:.1f}s")
    failed = bar.locator('[data-file-status="error"]')
    assert failed.count() == 2
    assert (
        "drawing instructions"
        in bar.locator('[data-file-status="error"]', has_text="crafted.pdf").inner_text()
    )
    assert (
        "binary file"
        in bar.locator('[data-file-status="error"]', has_text="binary.txt").inner_text()
    )
    assert bar.locator('[data-file-status="completed"]').count() == 2
    wait_for(lambda: page.locator('#documents [data-document-status="error"]').count() == 2)
    assert page.locator('#documents [data-document-status="completed"]').count() == 2
    assert_accessible(page, "bar completed, two hostile files failed")


def test_duplicate_long_names_are_all_processed(context):
    page = context.pages[0]
    create_knowledge_base(page, "Long names")
    name = long_name(".txt")
    payload = [{"name": name, "mimeType": "text/plain", "buffer": b"Same name."}] * 3
    page.set_input_files("#upload-files", payload)
    page.click("#upload-form button[type=submit]")
    bar = page.locator(BAR).first
    wait_for(lambda: bar.get_attribute("data-state") == "completed", timeout=60)
    assert bar.locator('[data-file-status="completed"]').count() == 3
    assert page.locator("#upload-error").is_hidden()


def test_an_oversize_upload_is_refused_as_json_and_nothing_is_stored(context):
    page = context.pages[0]
    url = create_knowledge_base(page, "Oversize")
    token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(
        url.rstrip("/") + "/upload",
        multipart={
            "files": {
                "name": "huge.txt",
                "mimeType": "text/plain",
                "buffer": b"x" * (MAX_UPLOAD_BYTES + 1),
            }
        },
        headers={"X-CSRFToken": token, "Accept": "application/json", "Referer": url},
    )
    assert response.status == 413
    assert '"huge.txt" is over the limit' in response.json()["detail"]
    page.reload()
    assert page.locator("#documents table").count() == 0


def test_a_second_users_small_file_finishes_while_a_heavy_batch_runs(
    browser, context, demo_site, tmp_path
):
    # Each file takes ~20 slowed-down steps (~7 s); the batch, one file at a time, ~21 s.
    heavy = []
    for n in range(3):
        path = tmp_path / f"heavy-{n}.txt"
        path.write_text(f"Heavy file {n}.\n" * 85_000)
        heavy.append(str(path))
    small = tmp_path / "small.txt"
    small.write_text("Nine byte")
    page = context.pages[0]
    create_knowledge_base(page, "Heavy batch")

    other_context = browser.new_context(base_url=demo_site.base_url)
    try:
        # The second user is ready to upload before the heavy batch starts, so a slow login
        # on a busy machine does not eat into the time the batch runs.
        other = other_context.new_page()
        log_in(other, OTHER_USER)
        create_knowledge_base(other, "Small file")
        heavy_bar = upload(page, heavy)
        wait_for(
            lambda: (
                float(heavy_bar.locator("[role=progressbar]").get_attribute("aria-valuenow") or 0)
                > 0
            )
        )
        started = time.monotonic()
        small_bar = upload(other, [str(small)])
        wait_for(lambda: small_bar.get_attribute("data-state") == "completed", timeout=60)
        waited = time.monotonic() - started
        print(f"\nsecond user's small file completed {waited:.1f}s after its upload")
        # It did not wait for the heavy batch: that one is still running.
        assert heavy_bar.get_attribute("data-state") == "processing"
    finally:
        other_context.close()
    wait_for(lambda: heavy_bar.get_attribute("data-state") == "completed", timeout=120)
