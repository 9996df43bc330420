"""Cancel in a real browser: the bar's button stops a running WAV within one step."""

from __future__ import annotations

import json
import time
import wave

from .test_knowledge_page import BAR, create_knowledge_base, upload, value_of, wait_for

# Seconds of audio in the test recording; the reader takes it in 5 s pieces (its steps).
SECONDS = 90
PIECE_SECONDS = 5
STEP_PERCENT = 100 * PIECE_SECONDS / SECONDS

TASK_RESULTS = """
import json
from django_tasks_db.models import DBTaskResult
rows = DBTaskResult.objects.filter(task_path="knowledge.tasks.process_document")
print(json.dumps([
    {"status": r.status, "args": r.args_kwargs.get("args"), "value": r.return_value,
     "finished": r.finished_at.timestamp() if r.finished_at else None}
    for r in rows
]))
"""


def write_wav(path, seconds: int) -> None:
    """16 kHz mono: a quiet tone, so every piece has real samples to convert."""
    frame = bytearray()
    for n in range(160):
        sample = 800 if n % 40 < 20 else -800
        frame += sample.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(bytes(frame) * (100 * seconds))


def finished_tasks(demo_site, session_id: str) -> list[dict]:
    rows = json.loads(demo_site.manage("shell", "-c", TASK_RESULTS).strip().splitlines()[-1])
    return [r for r in rows if r["args"] and r["args"][0] == session_id and r["finished"]]


def test_cancel_mid_wav_stops_the_worker_within_one_step(
    context, demo_site, tmp_path, assert_accessible
):
    recording = tmp_path / "interview.wav"
    write_wav(recording, SECONDS)
    page = context.pages[0]
    create_knowledge_base(page, "Cancel test")
    bar = upload(page, [str(recording)])
    session = bar.get_attribute("data-session-id")
    button = bar.locator("[data-progress-tracking-cancel]")

    # A few pieces in: the worker is in the middle of the recording.
    wait_for(lambda: value_of(bar) >= 2 * STEP_PERCENT, timeout=60)
    assert button.is_visible()
    assert button.get_attribute("type") == "button"
    assert_accessible(page, "bar with its Cancel button")

    questions = []

    def confirm(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    clicked_at = time.time()
    with page.expect_response(lambda r: r.url.endswith(f"/{session}/cancel")) as answer:
        button.click()
    assert answer.value.status == 200
    body = answer.value.json()
    assert body["status"] == "cancelled"
    assert questions == ["Cancel this work? Files not finished yet will not be processed."]
    (entry,) = body["files"]
    at_cancel = entry["progress"]
    assert entry["status"] == "cancelled"
    assert 0 < at_cancel < 100

    # The page ends in the cancelled state, without a reload.
    wait_for(lambda: bar.get_attribute("data-state") == "cancelled", timeout=10)
    assert bar.locator("[data-progress-tracking-message]").inner_text() == "Processing cancelled."
    assert not button.is_visible()
    assert bar.locator('[data-file-status="cancelled"]').count() == 1
    assert bar.locator("[role=progressbar]").get_attribute("aria-busy") is None
    assert_accessible(page, "bar cancelled")

    # The worker stopped at the first step it reported after the cancel.
    tasks = wait_for(lambda: finished_tasks(demo_site, session), timeout=30, step=0.5)
    (task,) = tasks
    assert task["status"] == "SUCCESSFUL"
    assert task["value"]["cancelled"] is True
    stopped_at = task["value"]["stopped_at"]
    assert at_cancel <= stopped_at <= at_cancel + STEP_PERCENT + 0.1, (at_cancel, stopped_at)
    print(
        f"\ncancel: file at {at_cancel}% when cancelled, worker stopped at {stopped_at}% "
        f"(one step = {STEP_PERCENT:.1f}%), task ended "
        f"{task['finished'] - clicked_at:.2f}s after the click"
    )

    # The document list says so too.
    wait_for(lambda: page.locator('#documents [data-document-status="cancelled"]').count() == 1)
    page.reload()
    assert page.locator('#documents [data-document-status="cancelled"]').count() == 1
    reloaded = page.locator(BAR).first
    assert reloaded.get_attribute("data-state") == "cancelled"
    assert not reloaded.locator("[data-progress-tracking-cancel]").is_visible()
