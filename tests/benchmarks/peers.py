"""What the fast path is measured against, besides the DRF endpoints in ``urls.py``.

- a bare Django view: no authentication, no database, a constant JSON body (the ceiling);
- celery-progress's own ``get_progress`` view reading a task's progress from a Redis result
  backend, as sites that use it install it (it checks no authentication at all).

celery and celery-progress are in the ``bench`` dependency group only: the app never uses them.
"""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
PROGRESS_STATE = "PROGRESS"  # celery-progress's state of a running task


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)


def bare_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


_celery_app: Any = None


def celery_app() -> Any:
    """A Celery app whose result backend is the benchmark's Redis (no broker is used)."""
    global _celery_app
    if _celery_app is None:
        from celery import Celery

        _celery_app = Celery("progress_bench", broker="memory://", backend=redis_url())
        _celery_app.set_default()
    return _celery_app


def celery_progress_view(request: HttpRequest, task_id: str) -> HttpResponse:
    from celery_progress.views import get_progress

    celery_app()
    return get_progress(request, task_id)


def seed_celery_task(task_id: str) -> None:
    """A running task mid-way, as celery-progress's ProgressRecorder leaves it."""
    celery_app().backend.store_result(
        task_id,
        {"pending": False, "current": 5, "total": 12, "percent": 41.67, "description": "chunk 5"},
        PROGRESS_STATE,
    )
