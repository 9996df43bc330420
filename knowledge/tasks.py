"""Background processing of uploaded documents, reporting progress per file and per step."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from progress_tracking.exceptions import InvalidProgressData
from progress_tracking.models import FileStatus
from progress_tracking.recorder import ProgressRecorder

from .compat import task
from .models import Document
from .processing import ProcessingFailed, extract_text

logger = logging.getLogger(__name__)


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


@task()
def process_documents(session_id: str, document_ids: list[int]) -> dict[str, int]:
    """Extract the text of each document; one failed file does not stop the others."""
    documents = list(Document.objects.filter(pk__in=document_ids).order_by("pk"))
    failed = 0
    with ProgressRecorder(session_id) as recorder:
        for document in documents:
            failed += not process_one(document, recorder)
        try:
            recorder.complete()
        except InvalidProgressData:
            # Files of a later upload joined this session and are still being processed;
            # the task handling them completes it.
            logger.info("Session %s still has unfinished files", session_id)
    return {"documents": len(documents), "failed": failed}


def process_one(document: Document, recorder: ProgressRecorder) -> bool:
    name = document.name
    document.status = FileStatus.PROCESSING
    document.save(update_fields=["status"])
    recorder.file(name, progress=0, status=FileStatus.PROCESSING, message="Starting")
    last = 0.0

    # Slow motion for demos and browser tests: a pause after every step.
    delay = float(getattr(settings, "KNOWLEDGE_STEP_DELAY", 0))

    def on_progress(fraction: float, message: str) -> None:
        nonlocal last
        last = round(fraction * 100, 1)
        recorder.file(name, progress=last, message=message)
        if delay:
            time.sleep(delay)

    try:
        with local_copy(document.file) as path:
            text = extract_text(path, filename=name, on_progress=on_progress)
    except ProcessingFailed as exc:
        document.status, document.error = FileStatus.ERROR, str(exc)
        recorder.file(name, progress=last, status=FileStatus.ERROR, error=str(exc))
        ok = False
    else:
        document.status, document.text = FileStatus.COMPLETED, text
        words = len(text.split())
        recorder.file(name, progress=100, status=FileStatus.COMPLETED, message=f"{words} words")
        ok = True
    document.processed_at = timezone.now()
    document.save(update_fields=["status", "error", "text", "processed_at"])
    return ok
