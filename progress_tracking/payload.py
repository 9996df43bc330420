"""The progress dict and the status body: every key, its type and its default, defined once.

``Progress`` is what the services store under ``meta["processing_progress"]``; ``StatusBody``
is what the API renders from it: the stored keys but ``rate``, plus four computed when the body
is rendered. ``FileEntry`` is one file of either. The state rules, the storage, the renderer,
the backfill and the admin use these; ``polling.d.ts`` and the docs' field tables are held to
them by ``tests/progress_tracking/test_docs.py``.

Statuses are plain strings here (``ProgressStatus``/``FileStatus`` values): the dict is JSON.
"""

# No ``from __future__ import annotations``: in string annotations (3.11 to 3.13 at least)
# ``NotRequired`` is not seen at run time and ``Progress.__required_keys__`` would list "rate".
from typing import Final, NotRequired, TypedDict

from .models import FileStatus, ProgressStatus


class FileEntry(TypedDict):
    name: str  # the entry's identity within its session
    status: str  # a FileStatus value
    progress: float  # 0-100, an int or a float as reported
    message: str
    error: str | None  # the failure's text when status is "error", else None


class Rate(TypedDict):
    """The last sample of a session's pace (see ``eta``)."""

    at: float
    progress: float
    per_second: float | None  # percent per second, smoothed; None before two samples
    moved_at: float


# The body's keys come in the API's order: the seed's keys, then this app's extensions in the
# order they were added. The stored dict has the same keys but the computed ones, so the
# TypedDicts below are put together from these parts.


class _SessionFields(TypedDict):
    session_id: str  # a UUID string
    status: str  # a ProgressStatus value
    progress: float  # 0-100, an int or a float as stored; never goes back
    message: str
    total_files: int
    processed_files: int
    current_file: str | None
    last_updated: int  # Unix seconds
    error: str | None  # the failure's text when status is "error", else None
    failed_files: int
    files: list[FileEntry]  # stored: every file; in a body: at most FILES_LIMIT, ranked


class _LaterFields(TypedDict):
    started_at: int | None  # Unix seconds
    finished_at: int | None  # Unix seconds; None until the session is final
    version: int  # grows with every write; the ETag follows it
    object_id: str | None  # primary key of the row the session belongs to


class _FileSummary(TypedDict):
    files_total: int  # how many entries the stored ``files`` has
    file_list: list[str]  # their names in stored order, at most FILES_LIMIT


class _Timings(TypedDict):
    elapsed_seconds: float
    eta_seconds: float | None


class Progress(_SessionFields, _LaterFields):
    """A session's progress dict as the services store it (``get_progress()`` returns one)."""

    rate: NotRequired[Rate]  # written by every write after the first


class StatusBody(_SessionFields, _FileSummary, _LaterFields, _Timings):
    """The JSON body of ``GET {session_id}/status`` (and each of the list's ``results``)."""


def new_file_entry(name: str) -> FileEntry:
    """A file announced or first reported: pending, nothing done yet."""
    return {
        "name": name,
        "status": FileStatus.PENDING.value,
        "progress": 0,
        "message": "",
        "error": None,
    }


def initial_progress(
    session_id: str,
    *,
    object_id: str,
    total_files: int,
    file_names: list[str],
    message: str,
    now: int,
) -> Progress:
    """The dict of a session just started; its arguments are checked already (``state``)."""
    return {
        "session_id": session_id,
        "object_id": object_id,
        "status": ProgressStatus.PROCESSING.value,
        "total_files": max(total_files, len(file_names)),
        "processed_files": 0,
        "current_file": None,
        "progress": 0,
        "message": message,
        "last_updated": now,
        "error": None,
        "started_at": now,
        "finished_at": None,
        "failed_files": 0,
        "files": [new_file_entry(name) for name in file_names],
        "version": 1,
    }


def _seed_format_reading() -> Progress:
    # How a dict in the seed's format (which may hold only ``session_id``, ``status`` and
    # ``last_updated``) reads: every other key at its "nothing known" value.
    return {
        "session_id": "",
        "status": "",
        "progress": 0,
        "message": "",
        "total_files": 0,
        "processed_files": 0,
        "current_file": None,
        "last_updated": 0,
        "error": None,
        "failed_files": 0,
        "files": [],
        "started_at": None,
        "finished_at": None,
        "version": 0,
        "object_id": None,
    }


# What a file entry shows for keys a stored entry lacks: a new entry's values (not its name).
FILE_DEFAULTS: Final[dict[str, object]] = {
    key: value for key, value in new_file_entry("").items() if key != "name"
}

# What a body shows for keys that progress stored in the seed's format does not have
# (``files`` and the computed keys are rendered from what there is; identity keys have no
# default).
BODY_DEFAULTS: Final[dict[str, object]] = {
    key: value
    for key, value in _seed_format_reading().items()
    if key not in ("session_id", "status", "files")
}


def seed_defaults() -> dict[str, object]:
    """What the backfill adds to a seed-format dict for the keys later writes expect.

    The values a body shows, except that a backfilled dict counts as written once
    (``version`` 1) and gets an empty ``files`` list of its own. ``last_updated`` must be
    there already; ``started_at``, ``finished_at`` and ``object_id`` are the backfill's to
    derive.
    """
    derived = ("last_updated", "started_at", "finished_at", "object_id")
    kept = {key: value for key, value in BODY_DEFAULTS.items() if key not in derived}
    return {**kept, "files": [], "version": 1}
