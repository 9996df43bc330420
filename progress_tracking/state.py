"""Pure functions over the stored progress dict: validation and every state transition.

Nothing here touches the database, so every rule (ranges, counts, final states, per-file
arithmetic) is guarded in this one place and can be tested exhaustively.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any, cast

from . import eta
from .conf import app_settings
from .exceptions import InvalidProgressData
from .models import FINAL_FILE_STATUSES, FINAL_STATUSES, FileStatus, ProgressStatus
from .text import describe, is_storable, readable, storable

MESSAGE_MAX_LENGTH = 1000
ERROR_MAX_LENGTH = 1000
FILENAME_MAX_LENGTH = 255
# What a worker may report for a file; ``cancelled`` is only ever set by request_cancel().
REPORTED_FILE_STATUSES = tuple(v for v in FileStatus.values if v != FileStatus.CANCELLED)
UPDATE_FIELDS = frozenset({"total_files", "processed_files", "current_file", "status"})

Progress = dict[str, Any]


def is_final(state: Progress) -> bool:
    return state.get("status") in FINAL_STATUSES


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_percentage(name: str, value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidProgressData(f"{name} must be a number from 0 to 100, not {describe(value)}.")
    # No math.isnan() on an int: it converts to float, which overflows for 10**400.
    if (isinstance(value, float) and math.isnan(value)) or not 0 <= value <= 100:
        raise InvalidProgressData(f"{name} must be between 0 and 100, not {describe(value)}.")
    return value


def check_count(name: str, value: object, *, limit: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidProgressData(f"{name} must be a non-negative integer, not {describe(value)}.")
    if limit is not None and value > limit:
        raise InvalidProgressData(f"{name} is {describe(value)}; the limit is {limit:,}.")
    return value


def check_total_files(value: object) -> int:
    return check_count("total_files", value, limit=app_settings.MAX_TOTAL_FILES)


def check_file_count(count: int) -> None:
    limit = app_settings.MAX_FILES_PER_SESSION
    if count > limit:
        raise InvalidProgressData(
            f"A session can track at most {limit:,} files (MAX_FILES_PER_SESSION); "
            f"this would make it {count:,}."
        )


def check_text(name: str, value: object, *, limit: int = MESSAGE_MAX_LENGTH) -> str:
    """A message's type and length; characters that cannot be stored are replaced later."""
    if not isinstance(value, str):
        raise InvalidProgressData(f"{name} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidProgressData(f"{name} is {len(value)} characters long; the limit is {limit}.")
    return value


def check_file_name(value: object) -> str:
    """A file name is an entry's identity: one that cannot be stored as given is refused."""
    name = check_text("filename", value, limit=FILENAME_MAX_LENGTH)
    if not name.strip():
        raise InvalidProgressData("filename must not be empty.")
    if not is_storable(name):
        raise InvalidProgressData(
            f"filename {describe(name)} contains NUL or a lone surrogate, which no database "
            "can store as text; decode file names with errors='replace' first."
        )
    return name


def check_file_names(names: object) -> list[str]:
    if isinstance(names, str | bytes):
        raise InvalidProgressData("files must be a list of file names, not a single string.")
    if not isinstance(names, Iterable):
        raise InvalidProgressData(f"files must be a list of file names, not {describe(names)}.")
    unique: dict[str, None] = {}
    for name in names:
        unique[check_file_name(name)] = None
        check_file_count(len(unique))
    return list(unique)


def message_text(message: str) -> str:
    return storable(message)


def error_text(error: object) -> str:
    """The stored text of a failure: never refused, whatever ``error`` is."""
    text = readable(error).strip() if error is not None else ""
    return storable(truncate(text or "Unknown error", ERROR_MAX_LENGTH))


def file_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": FileStatus.PENDING.value,
        "progress": 0,
        "message": "",
        "error": None,
    }


def new_progress(
    session_id: str,
    *,
    object_id: str,
    total_files: object,
    files: Iterable[object],
    message: object,
    now: float,
) -> Progress:
    total = check_total_files(total_files)
    names = check_file_names(files)
    return {
        "session_id": session_id,
        # The row the session belongs to, so a page can tell its own sessions in a list.
        "object_id": object_id,
        "status": ProgressStatus.PROCESSING.value,
        "total_files": max(total, len(names)),
        "processed_files": 0,
        "current_file": None,
        "progress": 0,
        "message": message_text(check_text("message", message)),
        "last_updated": int(now),
        "error": None,
        "started_at": int(now),
        "finished_at": None,
        "failed_files": 0,
        "files": [file_entry(name) for name in names],
        "version": 1,
    }


def _touched(state: Progress, now: float) -> Progress:
    eta.record_sample(state, now)
    state["last_updated"] = int(now)
    state["version"] = int(state.get("version") or 0) + 1
    return state


def _advance(state: Progress, value: float) -> None:
    """Set overall progress, never lower than it was: a viewer never sees the bar go back.

    Files joining a running session, a file reported again from a lower value (a retry)
    and a file failing part-way can all make the computed figure smaller; the stored one
    holds until the work catches up with it.
    """
    previous = state.get("progress")
    if isinstance(previous, int | float) and not isinstance(previous, bool) and previous > value:
        return
    state["progress"] = value


def _recount(state: Progress) -> None:
    """Derive counts and overall progress from the per-file entries, when there are any."""
    files = state.get("files") or []
    if not files:
        return
    finished = [f for f in files if f["status"] in FINAL_FILE_STATUSES]
    # Cancelled files were not processed; they only occur in a session that is over.
    state["processed_files"] = sum(1 for f in finished if f["status"] != FileStatus.CANCELLED)
    state["failed_files"] = sum(1 for f in finished if f["status"] == FileStatus.ERROR)
    state["total_files"] = max(state["total_files"], len(files))
    done = sum(100 if f["status"] in FINAL_FILE_STATUSES else f["progress"] for f in files)
    overall = done / state["total_files"]
    if len(finished) < state["total_files"]:
        # 100 means "every file finished"; a rounding artefact must not claim it early.
        overall = min(overall, 99.9)
    _advance(state, round(overall, 1))


def unfinished_files(state: Progress) -> int:
    """Files not finished yet, counting announced files not reported yet.

    A session without per-file entries counts with ``processed_files`` only: 0 here.
    """
    files = state.get("files") or []
    if not files:
        return 0
    running = sum(1 for f in files if f["status"] not in FINAL_FILE_STATUSES)
    return running + max(0, state["total_files"] - len(files))


def check_update_args(progress: object, message: object, fields: dict[str, object]) -> None:
    """Validate update_progress() arguments on their own, before any row is read."""
    unknown = set(fields) - UPDATE_FIELDS
    if unknown:
        raise InvalidProgressData(
            f"update_progress() got unexpected field(s) {', '.join(sorted(unknown))}; "
            f"allowed: progress, message, {', '.join(sorted(UPDATE_FIELDS))}."
        )
    status = fields.get("status", ProgressStatus.PROCESSING.value)
    if status != ProgressStatus.PROCESSING:
        hint = {
            "completed": " Use mark_session_complete().",
            "error": " Use mark_session_error().",
            "cancelled": " Use request_cancel().",
        }.get(status if isinstance(status, str) else "", "")
        raise InvalidProgressData(f"update_progress() only accepts status='processing'.{hint}")
    if "total_files" in fields:
        check_total_files(fields["total_files"])
    if "processed_files" in fields:
        check_count("processed_files", fields["processed_files"])
    if fields.get("current_file") is not None:
        check_file_name(fields["current_file"])
    if message is not None:
        check_text("message", message)
    if progress is not None:
        check_percentage("progress", progress)


def apply_update(
    state: Progress, *, progress: object, message: object, fields: dict[str, object], now: float
) -> Progress:
    """The state after update_progress(); arguments were checked by check_update_args()."""
    new = copy.deepcopy(state)
    has_files = bool(new.get("files"))
    if "total_files" in fields:
        new["total_files"] = fields["total_files"]
        if has_files and new["total_files"] < len(new["files"]):
            raise InvalidProgressData(
                f"total_files={new['total_files']} is less than the {len(new['files'])} "
                "files this session already tracks."
            )
    if "processed_files" in fields:
        if has_files:
            raise InvalidProgressData(
                "processed_files is counted from the per-file entries of this session; "
                "report files with update_file_progress()."
            )
        new["processed_files"] = fields["processed_files"]
    if new["processed_files"] > new["total_files"]:
        raise InvalidProgressData(
            f"processed_files ({new['processed_files']}) cannot exceed "
            f"total_files ({new['total_files']})."
        )
    if "current_file" in fields:
        new["current_file"] = fields["current_file"]
    if message is not None:
        new["message"] = message_text(str(message))
    _recount(new)
    if progress is not None:
        if progress == 100 and unfinished_files(new):
            raise InvalidProgressData("progress cannot reach 100 while files are unfinished.")
        _advance(new, cast(float, progress))  # a number: check_update_args() said so
    return _touched(new, now)


def check_file_args(filename: object, progress: object, status: object, message: object) -> None:
    """Validate update_file_progress() arguments on their own, before any row is read."""
    check_file_name(filename)
    check_percentage("progress", progress)
    if not isinstance(status, str) or status not in REPORTED_FILE_STATUSES:
        hint = " Files end cancelled through request_cancel()." if status == "cancelled" else ""
        raise InvalidProgressData(
            f"status must be one of {', '.join(REPORTED_FILE_STATUSES)}, "
            f"not {describe(status)}.{hint}"
        )
    if message is not None:
        check_text("message", message)


def apply_file_update(
    state: Progress,
    name: str,
    *,
    progress: float,
    status: str,
    message: str | None,
    error: object,
    now: float,
) -> Progress | None:
    """The state after one file's update, or None when that file is already finished."""
    new = copy.deepcopy(state)
    files: list[dict[str, Any]] = new.setdefault("files", [])
    entry = next((f for f in files if f["name"] == name), None)
    if entry is None:
        check_file_count(len(files) + 1)
        entry = file_entry(name)
        files.append(entry)
    elif entry["status"] in FINAL_FILE_STATUSES:
        return None
    entry["status"] = status
    entry["progress"] = 100 if status == FileStatus.COMPLETED else progress
    entry["error"] = error_text(error) if status == FileStatus.ERROR else None
    if message is not None:
        entry["message"] = new["message"] = message_text(message)
    if status != FileStatus.PENDING:
        new["current_file"] = name
    _recount(new)
    return _touched(new, now)


def apply_join(state: Progress, files: Iterable[object], *, now: float) -> Progress:
    names = check_file_names(files)
    new = copy.deepcopy(state)
    existing = {f["name"] for f in new.setdefault("files", [])}
    added = [name for name in names if name not in existing]
    check_file_count(len(new["files"]) + len(added))
    check_total_files(new["total_files"] + len(added))
    new["files"].extend(file_entry(name) for name in added)
    new["total_files"] += len(added)
    _recount(new)
    return _touched(new, now)


def apply_complete(state: Progress, *, message: str | None, now: float) -> Progress:
    pending = unfinished_files(state)
    if pending:
        raise InvalidProgressData(
            f"Cannot complete session {state['session_id']}: {pending} file(s) are unfinished."
        )
    new = copy.deepcopy(state)
    if new.get("files"):
        _recount(new)
    else:
        new["processed_files"] = new["total_files"]
    new["status"] = ProgressStatus.COMPLETED.value
    new["progress"] = 100
    failed = new.get("failed_files", 0)
    if message is None:
        message = (
            f"Completed: {failed} of {new['total_files']} files failed."
            if failed
            else "Processing completed."
        )
    new["message"] = message_text(message)
    new["finished_at"] = int(now)
    return _touched(new, now)


def apply_error(state: Progress, *, error: object, now: float) -> Progress:
    new = copy.deepcopy(state)
    new["status"] = ProgressStatus.ERROR.value
    new["error"] = error_text(error)
    new["message"] = "Processing failed."
    new["finished_at"] = int(now)
    return _touched(new, now)


def apply_cancel(state: Progress, *, now: float) -> Progress:
    """End a processing session as cancelled; files not finished yet end cancelled too.

    Overall progress and the counts stay as they were: the bar stops where the work stopped.
    """
    new = copy.deepcopy(state)
    for entry in new.get("files") or []:
        if entry["status"] not in FINAL_FILE_STATUSES:
            entry["status"] = FileStatus.CANCELLED.value
    new["status"] = ProgressStatus.CANCELLED.value
    new["message"] = "Processing cancelled."
    new["finished_at"] = int(now)
    return _touched(new, now)


def apply_heartbeat(state: Progress, *, now: float) -> Progress:
    return _touched(copy.deepcopy(state), now)
