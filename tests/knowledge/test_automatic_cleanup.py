"""The demo schedules no cleanup: its own traffic sweeps finished batches away."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from knowledge.models import Document
from progress_tracking import sweeper
from progress_tracking.models import Knowledge

from .test_upload import text_file, upload

ROOT = Path(__file__).resolve().parents[2]


def demo_setting(**env):
    environ = {k: v for k, v in os.environ.items() if k != "PROGRESS_AUTO_CLEANUP"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from config import settings; print(settings.PROGRESS_TRACKING['AUTO_CLEANUP'])",
        ],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_the_demo_cleans_up_by_itself_unless_told_not_to():
    assert demo_setting() == "True"
    assert demo_setting(PROGRESS_AUTO_CLEANUP="false") == "False"


@pytest.mark.django_db(transaction=True)
def test_the_pages_list_poll_sweeps_a_finished_batch_and_the_admin_shows_it(
    client, user, admin_user, immediate_tasks, monkeypatch
):
    monkeypatch.setattr(sweeper.time, "sleep", lambda seconds: None)
    kb = Knowledge.objects.create(name="Research", user=user)
    client.force_login(user)
    session_id = upload(client, kb, text_file()).json()["session_id"]
    # Five minutes and a second later (FINISHED_TTL of the demo: 300 s).
    Knowledge.objects.filter(pk=kb.pk).update(
        progress_updated_at=timezone.now() - timedelta(seconds=301)
    )

    monkeypatch.setattr(sweeper, "_next_look", 0.0)  # this process's first look
    # What knowledge_base.js asks every 5 s while the page is open.
    assert client.get("/api/v1/progress/").status_code == 200
    sweeper._thread.join(timeout=30)
    assert not sweeper._thread.is_alive()

    kb.refresh_from_db()
    assert kb.progress_session_id is None and "processing_progress" not in kb.meta
    assert Document.objects.get(knowledge=kb).status == "completed"  # only progress went
    assert client.get(f"/api/v1/progress/{session_id}/status").status_code == 404
    client.force_login(admin_user)
    page = client.get(reverse("admin:progress_tracking_cleanuplease_changelist"))
    assert page.context["cl"].result_list[0].last_removed == 1
