"""Template tags of the browser side.

``{% progress_tracking_assets %}`` (in ``<head>``) adds the stylesheet and the module script;
``{% progress_bar session_id label=_("Importing") %}`` renders a bar the script keeps up to date.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import SupportsFloat

from django import template
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

from ..body import shown_files
from ..capability import read_capability_for
from ..conf import app_settings
from ..models import AbstractProgressModel, FileStatus, ProgressStatus
from ..services import get_progress
from ..text import scrubbed

register = template.Library()

DEFAULT_BASE_URL = "/api/v1/progress"
DEFAULT_INTERVAL_MS = 1000


def api_base_url() -> str:
    """Where the host mounted the API, without trailing slash (the poller's ``baseUrl``)."""
    try:
        url = reverse("progress_tracking:list")
    except NoReverseMatch:
        return DEFAULT_BASE_URL
    return url.rstrip("/")


def _percent(value: object) -> int:
    if not isinstance(value, str | SupportsFloat):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if number != number:  # NaN
        return 0
    return round(min(100.0, max(0.0, number)))


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def value_text(status: Mapping[str, object]) -> str:
    """What a screen reader reads as the bar's value; the same words as progress_bar.js."""
    percent = f"{_percent(status.get('progress'))}%"
    total = _count(status.get("total_files"))
    if not total:
        return percent
    return ngettext(
        "%(processed)s of %(total)s file (%(percent)s)",
        "%(processed)s of %(total)s files (%(percent)s)",
        total,
    ) % {"processed": _count(status.get("processed_files")), "total": total, "percent": percent}


def status_message(status: Mapping[str, object]) -> str:
    state = status.get("status")
    message = str(status.get("message") or "")
    if state == ProgressStatus.COMPLETED:
        return message or gettext("Processing complete.")
    if state == ProgressStatus.ERROR:
        error = status.get("error") or message or gettext("unknown error")
        return gettext("Processing failed: %(error)s") % {"error": error}
    if state == ProgressStatus.CANCELLED:
        return gettext("Processing cancelled.")
    return message or gettext("Processing…")


FILE_LABELS = dict(FileStatus.choices)


def file_rows(status: Mapping[str, object]) -> tuple[list[dict[str, object]], int]:
    """The files to list (API order and limit) and how many are left out."""
    files = status.get("files")
    rows = []
    for entry in shown_files(files, app_settings.FILES_LIMIT):
        state = str(entry.get("status", ""))
        rows.append(
            {
                "name": str(entry.get("name", "")),
                "status": state,
                "label": FILE_LABELS.get(state, state),
                "error": entry.get("error") or "",
            }
        )
    total = status.get("files_total")
    if not isinstance(total, int):
        total = len(files) if isinstance(files, list) else 0
    return rows, max(0, total - len(rows))


def _viewer(context: template.Context) -> object:
    request = context.get("request")
    return getattr(request, "user", None) if request is not None else context.get("user")


@register.inclusion_tag("progress_tracking/progress_bar.html", takes_context=True)
def progress_bar(
    context: template.Context,
    session_id: object = None,
    *,
    label: str | None = None,
    status: Mapping[str, object] | None = None,
    base_url: str | None = None,
    interval: int = DEFAULT_INTERVAL_MS,
    show_files: bool = True,
    resume: bool = False,
    discover: bool = False,
    cancel: bool = True,
) -> dict[str, object]:
    """An accessible progress bar that progress_bar.js keeps up to date.

    ``status`` is the session's progress dict when the view has it; otherwise it is read
    (one indexed query) so a finished session shows its final state without polling.
    ``session_id`` may also be a row of any progress model (its current session). An
    empty ``session_id`` renders a hidden idle bar; with ``resume=True`` the script gives it
    the sessions this browser still tracks (``discover=True`` also asks the server).
    ``cancel=False`` leaves out the Cancel button shown while the work runs. For a logged-in
    viewer the bar carries a read capability (``data-capability``), so its polls take the
    fast path from the first one.
    """
    if isinstance(session_id, AbstractProgressModel):
        # {% progress_bar knowledge %}: the row's current session, if any.
        session_id = session_id.progress_session_id
    sid = "" if session_id is None else str(session_id).strip()
    if status is None and sid:
        status = get_progress(sid)
    # A page must render whatever text the row holds (see text.scrubbed).
    status = scrubbed(dict(status)) if isinstance(status, Mapping) else {}
    state = status.get("status") if sid else None
    if state not in ProgressStatus.values:
        state = ProgressStatus.PROCESSING.value if sid else ""
    shown = {**status, "status": state}
    files, files_more = file_rows(status) if show_files else ([], 0)
    return {
        "session_id": sid,
        "dom_id": f"progress-tracking-{uuid.uuid4().hex[:12]}",
        "label": label if label is not None else gettext("Progress"),
        "base_url": api_base_url() if base_url is None else str(base_url).rstrip("/"),
        "interval": _count(interval) or DEFAULT_INTERVAL_MS,
        "state": state or "idle",
        "status": state,
        "percent": _percent(status.get("progress")),
        "value_text": value_text(shown),
        "message": status_message(shown) if sid else "",
        "files": files,
        "files_more": files_more,
        "show_files": show_files,
        "resume": resume,
        "discover": discover,
        "cancel": cancel,
        "capability": (read_capability_for(_viewer(context), sid) or "") if sid else "",
    }


@register.simple_tag
def progress_tracking_assets(*, css: bool = True) -> str:
    """The module script that attaches every ``{% progress_bar %}``, and its stylesheet.

    ``css=False`` leaves the stylesheet out for sites that style the bar themselves.
    """
    script = format_html(
        '<script type="module" src="{}"></script>', static("progress_tracking/progress_bar.js")
    )
    if not css:
        return script
    link = format_html(
        '<link rel="stylesheet" href="{}">', static("progress_tracking/progress_bar.css")
    )
    return format_html("{}\n{}", link, script)
