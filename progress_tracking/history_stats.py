"""Per-day figures of the history (sessions, failure rate, durations, throughput) and a chart.

Pure functions over plain values, so the admin page's numbers are tested exactly. The chart
is inline SVG drawn here: no JavaScript, no build step, nothing fetched from the network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

FAILED = "error"


@dataclass(frozen=True)
class Finished:
    """What the figures need of one history record."""

    day: date
    status: str
    duration: float | None
    files: int


@dataclass(frozen=True)
class Day:
    day: date
    sessions: int
    failed: int
    median: float | None
    p95: float | None
    files: int
    throughput: float | None  # files per minute of session time

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.sessions if self.sessions else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` (0-1) percentile by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def daily(records: Iterable[Finished], first: date, last: date) -> list[Day]:
    """One ``Day`` for every date from ``first`` to ``last``, days without sessions too."""
    by_day: dict[date, list[Finished]] = {}
    for record in records:
        by_day.setdefault(record.day, []).append(record)
    days = []
    current = first
    while current <= last:
        found = by_day.get(current, [])
        durations = [r.duration for r in found if r.duration is not None]
        files = sum(r.files for r in found)
        busy = sum(durations)
        days.append(
            Day(
                day=current,
                sessions=len(found),
                failed=sum(1 for r in found if r.status == FAILED),
                median=percentile(durations, 0.5),
                p95=percentile(durations, 0.95),
                files=files,
                throughput=files / (busy / 60) if busy > 0 else None,
            )
        )
        current += timedelta(days=1)
    return days


WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 40, 28, 12


def chart(days: Sequence[Day]) -> SafeString:
    """Sessions per day as stacked bars (finished fine / failed), as accessible inline SVG."""
    peak = max((d.sessions for d in days), default=0)
    scale = max(peak, 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(days), 1)
    bar_w = max(1.0, step * 0.7)
    bars = []
    for index, day in enumerate(days):
        x = LEFT + index * step + (step - bar_w) / 2
        ok_h = plot_h * (day.sessions - day.failed) / scale
        failed_h = plot_h * day.failed / scale
        base = TOP + plot_h
        label = ngettext(
            "%(day)s: %(count)d session, %(failed)d failed",
            "%(day)s: %(count)d sessions, %(failed)d failed",
            day.sessions,
        ) % {
            "day": date_format(day.day, "SHORT_DATE_FORMAT"),
            "count": day.sessions,
            "failed": day.failed,
        }
        bars.append(
            (
                label,
                f"{x:.1f}",
                f"{base - ok_h:.1f}",
                f"{bar_w:.1f}",
                f"{ok_h:.1f}",
                f"{base - ok_h - failed_h:.1f}",
                f"{failed_h:.1f}",
            )
        )
    rects = format_html_join(
        "\n",
        '<g><title>{}</title><rect class="ok" x="{}" y="{}" width="{}" height="{}"/>'
        '<rect class="failed" x="{}" y="{}" width="{}" height="{}"/></g>',
        ((label, x, y_ok, w, h_ok, x, y_f, w, h_f) for label, x, y_ok, w, h_ok, y_f, h_f in bars),
    )
    first = date_format(days[0].day, "SHORT_DATE_FORMAT") if days else ""
    last = date_format(days[-1].day, "SHORT_DATE_FORMAT") if days else ""
    summary = gettext(
        "Sessions per day from %(first)s to %(last)s; at most %(peak)d on one day."
    ) % {"first": first, "last": last, "peak": peak}
    return format_html(
        '<svg class="progress-history-chart" role="img" aria-labelledby="phc-title phc-desc" '
        'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="phc-title">{title}</title><desc id="phc-desc">{summary}</desc>'
        "<style>.ok{{fill:#2563eb}}.failed{{fill:#b91c1c}}"
        ".axis{{stroke:#4b5563;stroke-width:1}}text{{fill:currentColor;font-size:11px}}</style>"
        '<line class="axis" x1="{left}" y1="{base}" x2="{right}" y2="{base}"/>'
        '<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}"/>'
        '<text x="{tick_x}" y="{top_text}" text-anchor="end">{peak}</text>'
        '<text x="{tick_x}" y="{base}" text-anchor="end">0</text>'
        "{rects}"
        '<text x="{left}" y="{label_y}">{first}</text>'
        '<text x="{right}" y="{label_y}" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=gettext("Sessions per day (failed in red)"),
        summary=summary,
        left=LEFT,
        right=WIDTH - 8,
        top=TOP,
        base=TOP + plot_h,
        tick_x=LEFT - 4,
        top_text=TOP + 8,
        peak=peak,
        rects=rects,
        label_y=HEIGHT - 8,
        first=first,
        last=last,
    )


def finished_of(
    rows: Iterable[tuple[datetime, str, float | None, int]], tz: object
) -> list[Finished]:
    """``Finished`` values from (finished_at, status, duration_seconds, total_files) rows."""
    from django.utils import timezone

    return [
        Finished(
            day=timezone.localtime(at, tz).date(),  # type: ignore[arg-type]
            status=status,
            duration=duration,
            files=files,
        )
        for at, status, duration, files in rows
    ]
