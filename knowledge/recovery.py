"""Ending documents whose work was interrupted, so that nothing stays unfinished for good.

A worker that dies (killed, out of memory, a deploy) writes nothing more: its document
stays ``processing`` and its session goes stale. Two ways end such documents as errors
with a sentence saying the work was interrupted:

- ``recover_after_restart()`` (the ``recover_interrupted_uploads`` command), run before
  workers start: every document a worker had started, and every task still marked running,
  belonged to a worker that is gone.
- ``recover_abandoned()``, run when a knowledge base's page is shown and when a task
  starts: unfinished documents whose session no longer runs (stale, cleared, finished).

Documents of a cancelled session end ``cancelled`` instead (``cancel_documents``, connected
to ``progress_cancelled``), whether a worker had started them or they were still queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData, SessionNotFound
from progress_tracking.models import FileStatus

from .models import Document

INTERRUPTED = (
    "Processing was interrupted (the worker stopped) before this file was finished. "
    "Upload it again to retry."
)
UNFINISHED = (FileStatus.PENDING, FileStatus.PROCESSING)
TASK_PATH = "knowledge.tasks.process_document"


class WorkerInterrupted(Exception):
    """Recorded on a task result whose worker died while running it."""


def end_interrupted(documents: Iterable[Document]) -> int:
    """End these documents, if still unfinished, as interrupted; also in their session."""
    ended: list[Document] = []
    for document in documents:
        changed = Document.objects.filter(pk=document.pk, status__in=UNFINISHED).update(
            status=FileStatus.ERROR, error=INTERRUPTED, processed_at=timezone.now()
        )
        if changed:
            ended.append(document)
    for session_id in {str(d.session_id) for d in ended if d.session_id}:
        _end_in_session(session_id, [d.name for d in ended if str(d.session_id) == session_id])
    return len(ended)


def _end_in_session(session_id: str, names: list[str]) -> None:
    progress = services.get_progress(session_id)
    if progress is None or progress["status"] != "processing":
        return  # gone or final: nothing to correct
    entries = {entry["name"]: entry for entry in progress.get("files", [])}
    try:
        for name in names:
            entry: dict[str, Any] = entries.get(name, {})
            services.update_file_progress(
                session_id,
                name,
                progress=entry.get("progress", 0),
                status=FileStatus.ERROR,
                error=INTERRUPTED,
                message=f"{name}: processing was interrupted",
            )
        services.mark_session_complete(session_id)
    except (InvalidProgressData, SessionNotFound):
        pass  # other files still run (they complete it), or the session just went away


def end_cancelled(**filters: Any) -> int:
    """End unfinished documents matching ``filters`` as cancelled; how many were."""
    return Document.objects.filter(status__in=UNFINISHED, **filters).update(
        status=FileStatus.CANCELLED, processed_at=timezone.now()
    )


def cancel_documents(sender: Any, session_id: str, **kwargs: Any) -> None:
    """``progress_cancelled`` receiver: the session's unfinished documents end cancelled."""
    end_cancelled(session_id=session_id)


def _session_status(session_id: object) -> str | None:
    progress = services.get_progress(str(session_id)) if session_id else None
    return None if progress is None else str(progress["status"])


def recover_abandoned(**filters: Any) -> int:
    """End unfinished documents (matching ``filters``) whose session no longer runs.

    Those of a cancelled session end cancelled, the others interrupted. Returns how many.
    """
    unfinished = Document.objects.filter(status__in=UNFINISHED, **filters)
    statuses: dict[object, str | None] = {}
    abandoned = []
    ended = 0
    for document in unfinished:
        if document.session_id not in statuses:
            statuses[document.session_id] = _session_status(document.session_id)
        status = statuses[document.session_id]
        if status == "cancelled":
            ended += end_cancelled(pk=document.pk)
        elif status != "processing":
            abandoned.append(document)
    return ended + end_interrupted(abandoned)


def _running_task_results() -> Iterable[Any]:
    if not apps.is_installed("django_tasks_db"):
        return []
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status="RUNNING", task_path=TASK_PATH)


def recover_after_restart() -> tuple[int, int]:
    """Run while no worker runs: end what dead workers left. Returns (documents, tasks)."""
    document_ids: list[int] = []
    tasks = 0
    for result in _running_task_results():
        document_ids.extend(result.args_kwargs.get("args", [])[1:2])
        result.set_failed(WorkerInterrupted("The worker stopped while running this task."))
        tasks += 1
    documents = Document.objects.filter(
        Q(status=FileStatus.PROCESSING) | Q(pk__in=document_ids, status__in=UNFINISHED)
    )
    return end_interrupted(documents), tasks
