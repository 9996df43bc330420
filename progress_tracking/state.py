"""Pure functions over the stored progress dict: every state transition and its arguments.

Nothing here touches the database, so every rule (ranges, counts, final states, per-file
arithmetic) is guarded in this one place and can be tested exhaustively. What a single value
must be is checked by ``validation``; the dict's keys are ``payload.Progress``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from . import eta
from .exceptions import InvalidProgressData
from .models import FINAL_FILE_STATUSES, FINAL_STATUSES, FileStatus, ProgressStatus
from .payload import FileEntry, Progress, initial_progress, new_file_entry
from .text import describe
from .validation import (
    check_count,
    check_file_count,
    check_file_name,
    check_file_names,
    check_percentage,
    check_text,
    check_total_files,
    error_text,
    message_text,
)

# What a worker may report for a file; ``cancelled`` is only ever set by request_cancel().
REPORTED_FILE_STATUSES = tuple(v for v in FileStatus.values if v != FileStatus.CANCELLED)
UPDATE_FIELDS = frozenset({"total_files", "processed_files", "current_file", "status"})


def is_final(state: Progress) -> bool:
    return state.get("status") in FINAL_STATUSES


def new_progress(
    session_id: str,
    *,
    object_id: str,
    total_files: object,
    files: Iterable[object],
    message: object,
    now: float,
) -> Progress:
    """A new session's dict, from arguments checked here."""
    return initial_progress(
        session_id,
        object_id=object_id,
        total_files=check_total_files(total_files),
        file_names=check_file_names(files),
        message=message_text(check_text("message", message)),
        now=int(now),
    )


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
    # The values were checked by check_update_args(); checking again gives them their types.
    if "total_files" in fields:
        new["total_files"] = check_total_files(fields["total_files"])
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
        new["processed_files"] = check_count("processed_files", fields["processed_files"])
    if new["processed_files"] > new["total_files"]:
        raise InvalidProgressData(
            f"processed_files ({new['processed_files']}) cannot exceed "
            f"total_files ({new['total_files']})."
        )
    if "current_file" in fields:
        current = fields["current_file"]
        new["current_file"] = None if current is None else check_file_name(current)
    if message is not None:
        new["message"] = message_text(str(message))
    _recount(new)
    if progress is not None:
        value = check_percentage("progress", progress)
        if value == 100 and unfinished_files(new):
            raise InvalidProgressData("progress cannot reach 100 while files are unfinished.")
        _advance(new, value)
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
    files: list[FileEntry] = new.setdefault("files", [])
    entry = next((f for f in files if f["name"] == name), None)
    if entry is None:
        check_file_count(len(files) + 1)
        entry = new_file_entry(name)
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
    new["files"].extend(new_file_entry(name) for name in added)
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
