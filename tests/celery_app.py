"""The Celery app and tasks that ``tests/test_celery_worker.py`` runs in a real worker.

docs/workers.md shows this file: it is the whole of what a Celery site needs. Broker and
result backend come from the environment (the test's Redis database numbers by default).

    celery -A tests.celery_app worker --pool=prefork --concurrency=1
"""

from __future__ import annotations

import os
import time

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery(
    "progress_tracking_tests",
    broker=os.environ.get("PROGRESS_TRACKING_CELERY_BROKER", "redis://127.0.0.1:6379/1"),
    backend=os.environ.get("PROGRESS_TRACKING_CELERY_BACKEND", "redis://127.0.0.1:6379/2"),
)
# Celery's Django fix-up: django.setup() in the worker, connections closed around tasks.
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task
def process_files(session_id: str, names: list[str], fail_at: str | None = None) -> None:
    """Report each file in steps; raise at ``fail_at`` to show how a failure is recorded."""
    from progress_tracking.recorder import ProgressRecorder

    with ProgressRecorder(session_id) as recorder:
        for name in names:
            for step in range(1, 5):
                if name == fail_at and step == 3:
                    raise ValueError(f"{name} is not a valid document")
                recorder.file(name, progress=step * 25, message=f"{name}: part {step} of 4")
                time.sleep(0.05)
            recorder.file(name, progress=100, status="completed")
        recorder.complete("All files processed.")


@app.task(soft_time_limit=1)
def process_slowly(session_id: str) -> None:
    """Runs past its soft time limit: the session ends as an error saying so."""
    from progress_tracking.recorder import ProgressRecorder

    with ProgressRecorder(session_id) as recorder:
        recorder.update(message="Working on something slow")
        try:
            time.sleep(30)
        except SoftTimeLimitExceeded:
            recorder.fail("Stopped: the task ran past its 1 s time limit.")
            raise
