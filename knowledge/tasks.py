"""Background processing of uploaded documents: one task per file, progress per step.

Each step (an audio piece, a PDF page, a chunk of text) reports through the recorder; when
the user cancels the batch, the first report written after it raises ``ProgressCancelled``,
which stops the reader process and ends the document cancelled.

One task per file keeps the queue fair (see ``enqueue_documents``) and bounds what a dying
worker takes down with it: one file, which ``knowledge.recovery`` then ends as
interrupted. Whatever goes wrong while one file is read becomes that file's error; the
other files of the batch go on.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models.fields.files import FieldFile
from django.utils import timezone

from progress_tracking import services
from progress_tracking.exceptions import InvalidProgressData, ProgressCancelled, SessionNotFound
from progress_tracking.models import FileStatus
from progress_tracking.recorder import ProgressRecorder

from . import conf
from .compat import task
from .isolation import extract_in_child
from .models import Document
from .processing import ProcessingFailed
from .recovery import end_cancelled, end_interrupted, recover_abandoned

logger = logging.getLogger(__name__)

INTERNAL_ERROR = (
    "The file could not be processed because of an error on the server (it has been "
    "logged). Upload it again later, or contact the site's administrators."
)
# The status body's messages are limited to 1,000 characters.
_MESSAGE_LIMIT = 1000
# How long a file whose owner is at their limit of files at once waits before it is tried
# again (another user's file is taken in between).
_DEFER_SECONDS = 1.0


@contextmanager
def local_copy(field: FieldFile) -> Iterator[str]:
    """A local path for the stored file: the file itself on local storage, else a temp copy."""
    try:
        yield field.path
        return
    except NotImplementedError:  # remote storage (S3 and the like)
        pass
    suffix = Path(field.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, field.open("rb") as source:
        shutil.copyfileobj(source, tmp)
        tmp.flush()
        yield tmp.name


def enqueue_documents(session_id: str, documents: Sequence[Document], backlog: int) -> None:
    """Queue one task per document; a user with a long queue does not hold up the others.

    ``backlog`` is how many of the uploader's files were already waiting. Each file of a
    batch gets a lower priority than the one before it, so another user's first file is
    taken before the rest of a long batch (workers take the highest priority first).
    """
    for position, document in enumerate(documents):
        _enqueue(session_id, document.pk, priority=-(backlog + position))


def _enqueue(session_id: str, document_id: int, *, priority: int, delay: float = 0) -> None:
    backend = process_document.get_backend()
    options: dict[str, Any] = {}
    if backend.supports_priority:
        options["priority"] = max(-100, priority)
    if delay and backend.supports_defer:
        options["run_after"] = timezone.now() + datetime.timedelta(seconds=delay)
    (process_document.using(**options) if options else process_document).enqueue(
        session_id, document_id
    )


def _defer_if_owner_busy(session_id: str, document: Document) -> bool:
    """Put the file back in the queue while its owner already has files being read.

    With more workers than files a user may have read at once, a long batch never takes
    every worker: another user's upload always finds one free.
    """
    limit = conf.files_at_once_per_user()
    if not limit or not process_document.get_backend().supports_defer:
        return False
    owner = {"knowledge__user_id": document.knowledge.user_id}
    # A file a dead worker left would count against its owner until it is ended.
    recover_abandoned(status=FileStatus.PROCESSING, **owner)
    if Document.objects.filter(status=FileStatus.PROCESSING, **owner).count() < limit:
        return False
    ahead = Document.objects.filter(status=FileStatus.PENDING, pk__lt=document.pk, **owner)
    with contextlib.suppress(SessionNotFound):
        services.heartbeat(session_id)  # waiting in the queue is not being dead
    _enqueue(session_id, document.pk, priority=-ahead.count(), delay=_DEFER_SECONDS)
    return True


@dataclass
class Reading:
    """How far the reader of one file got: the progress (0-100) of its latest step."""

    reached: float = 0.0


@task()
def process_document(session_id: str, document_id: int) -> dict[str, object]:
    """Extract one document's text; complete the session if it was the batch's last file."""
    document = Document.objects.select_related("knowledge").filter(pk=document_id).first()
    if document is None or document.status != FileStatus.PENDING:
        # Deleted, or already ended (interrupted while this task waited in the queue).
        return {"document": document_id, "skipped": True}
    if _defer_if_owner_busy(session_id, document):
        return {"document": document_id, "deferred": True}
    # Files of this knowledge base left behind by a worker that died end as interrupted.
    if recover_abandoned(knowledge_id=document.knowledge_id):
        document.refresh_from_db(fields=["status"])
        if document.status != FileStatus.PENDING:  # its batch was cancelled or is gone
            return {"document": document_id, "skipped": True}
    recorder = ProgressRecorder(session_id).start()
    reading = Reading()
    try:
        ok = process_one(document, recorder, reading)
        recorder.flush()
        # While other files of the batch are still queued or running, this refuses; the
        # task of the last file completes the session.
        with contextlib.suppress(InvalidProgressData):
            recorder.complete()
    except ProgressCancelled:
        # The user cancelled the batch: the reader was stopped at its last step (see
        # process_one) and the document ends cancelled, like the batch's queued ones.
        logger.info("Session %s was cancelled; document %s stops", session_id, document_id)
        end_cancelled(pk=document.pk)
        return {"document": document_id, "cancelled": True, "stopped_at": reading.reached}
    except SessionNotFound:
        # The session went stale or was cleared: nobody sees it any more. End the document
        # instead of leaving it unfinished for good.
        logger.warning(
            "Session %s is gone; document %s ends as interrupted", session_id, document_id
        )
        end_interrupted([document])
        ok = False
    finally:
        recorder.stop()
    return {"document": document_id, "failed": not ok}


def process_one(
    document: Document, recorder: ProgressRecorder, reading: Reading | None = None
) -> bool:
    name = document.name
    reading = reading if reading is not None else Reading()
    document.status = FileStatus.PROCESSING
    document.save(update_fields=["status"])
    recorder.file(name, progress=0, status=FileStatus.PROCESSING, message=f"Starting {name}")
    delay = conf.step_delay()

    def on_progress(fraction: float, message: str) -> None:
        reading.reached = round(fraction * 100, 1)
        recorder.file(name, progress=reading.reached, message=message)
        if delay:  # slow motion for demos and browser tests
            time.sleep(delay)

    error = ""
    try:
        with local_copy(document.file) as path:
            text = extract_in_child(
                path,
                filename=name,
                on_progress=on_progress,
                budget=conf.budget(),
                time_limit=conf.file_time_limit(),
                memory_limit=conf.file_memory_limit(),
            )
    except (SessionNotFound, ProgressCancelled):
        # Not the file's fault: the batch is gone or cancelled (the child was stopped).
        raise
    except ProcessingFailed as exc:
        error = str(exc)
    except Exception:
        logger.exception("Processing document %s (%s) failed", document.pk, name)
        error = INTERNAL_ERROR
    if error:
        document.status, document.error = FileStatus.ERROR, error
        message = f"{name}: {error}"[:_MESSAGE_LIMIT]
        recorder.file(
            name, progress=reading.reached, status=FileStatus.ERROR, error=error, message=message
        )
    else:
        document.status, document.text = FileStatus.COMPLETED, text
        words = len(text.split())
        recorder.file(
            name, progress=100, status=FileStatus.COMPLETED, message=f"{name}: {words:,} words"
        )
    document.processed_at = timezone.now()
    document.save(update_fields=["status", "error", "text", "processed_at"])
    return not error
