"""What the progress admin draws: the change page's live bar and file table, the list's bar.

Kept apart from ``admin.py`` (which wires columns, filters and actions) so both stay short.
"""

from __future__ import annotations

import json
from typing import cast

from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from .body import shown_files
from .conf import app_settings
from .models import PROGRESS_KEY, AbstractProgressModel, FileStatus
from .payload import Progress
from .text import scrubbed

FILE_LABELS = dict(FileStatus.choices)


def stored_progress(obj: AbstractProgressModel) -> Progress | None:
    """The row's progress dict, or None; ``meta`` may hold anything a host wrote."""
    value = obj.meta.get(PROGRESS_KEY) if isinstance(obj.meta, dict) else None
    return cast(Progress, value) if isinstance(value, dict) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(min(100, max(0, value)))


def mini_bar(obj: AbstractProgressModel) -> str:
    """A small native <progress> bar with its value as text, or a dash."""
    progress = stored_progress(obj)
    value = progress.get("progress") if progress else None
    if value is None:
        return "—"
    number = _number(value)
    if number is None:
        # Rows written before validation existed may hold anything: show it, never crash.
        return str(value)
    text = f"{value:g}%"
    return format_html(
        '<progress class="progress-tracking-mini" value="{}" max="100" aria-label="{}">'
        "{}</progress> {}",
        f"{number:g}",
        gettext("Progress: %(percent)s") % {"percent": text},
        text,
        text,
    )


def overview(obj: AbstractProgressModel) -> SafeString:
    """The live bar of the row's session and a table of its files (status, progress, error)."""
    # A page must render whatever text the row holds (see text.scrubbed).
    progress: Progress | None = scrubbed(stored_progress(obj))
    if not progress:
        return SafeString(format_html("<p>{}</p>", gettext("No progress on this row.")))
    stored_files = progress.get("files")
    files = stored_files if isinstance(stored_files, list) else []
    limit = app_settings.FILES_LIMIT
    rows = [
        {
            "name": str(entry.get("name", "")),
            "status": str(entry.get("status", "")),
            "label": FILE_LABELS.get(str(entry.get("status", "")), entry.get("status", "")),
            "progress": _number(entry.get("progress")) or 0,
            "error": entry.get("error") or "",
        }
        for entry in shown_files(files, limit)
    ]
    return render_to_string(
        "admin/progress_tracking/progress_overview.html",
        {
            "session_id": str(obj.progress_session_id or progress.get("session_id") or ""),
            "status": progress,
            "files": rows,
            "files_more": max(0, len(files) - len(rows)),
        },
    )


def meta_folded(obj: AbstractProgressModel) -> SafeString:
    """The raw ``meta`` as indented JSON, folded away in a <details>."""
    text = json.dumps(obj.meta, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html(
        '<details class="progress-tracking-raw"><summary>{}</summary>'
        '<pre style="white-space: pre-wrap">{}</pre></details>',
        gettext("Raw JSON"),
        text,
    )
