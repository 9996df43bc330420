"""Time left: a smoothed rate of progress kept in the stored dict, and the body's timings.

Every write samples the session's progress into ``state["rate"]``: the anchor (time and
progress of the last sample) and ``per_second``, an exponentially smoothed rate in percent
per second whose time constant is a quarter of the elapsed time (between ``MIN_WINDOW`` and
``MAX_WINDOW`` seconds). So the estimate follows the session's recent pace rather than a
straight line from the start, and a write that adds no progress (a heartbeat of a stalled
worker) pulls the rate down, which makes the time left grow.

Reading adds two rules: a gap since the last sample longer than ``GRACE`` counts as time
without progress, so a worker that stopped writing altogether sees its estimate grow, never
shrink; and once no progress at all was made for two windows (at least ``MIN_STALL``
seconds), the estimate is unknown (null) rather than a guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .payload import Progress, Rate

# Samples closer together than this are merged: rates over tiny intervals are mostly noise.
MIN_SAMPLE_INTERVAL = 2.0
MIN_WINDOW = 10.0
MAX_WINDOW = 300.0
# A silence up to this long is normal between two writes; beyond it, it counts as a stall.
GRACE = 10.0
# No estimate before this much progress and time: the first moments say little.
MIN_PROGRESS = 1.0
MIN_ELAPSED = 5.0
# No progress for this long (or two windows, if longer) makes the estimate unknown.
MIN_STALL = 60.0
# An estimate beyond this (a rate that decayed to almost nothing) is no estimate.
MAX_ETA = 7 * 24 * 3600.0


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _window(state: Mapping[str, object], now: float) -> float:
    started = _number(state.get("started_at"))
    elapsed = now - started if started is not None else 0.0
    return min(MAX_WINDOW, max(MIN_WINDOW, elapsed / 8))


def record_sample(state: Progress, now: float) -> None:
    """Fold the state's current progress into its smoothed rate (in place)."""
    progress = _number(state.get("progress")) or 0.0
    rate = state.get("rate")
    if not isinstance(rate, dict) or _number(rate.get("at")) is None:
        started = _number(state.get("started_at"))
        # The first sample after the start measures from the start.
        at = started if started is not None else now
        rate = {"at": at, "progress": 0.0, "per_second": None, "moved_at": at}
    at = float(rate["at"])
    anchor = _number(rate.get("progress")) or 0.0
    moved_at = _number(rate.get("moved_at"))
    moved_at = now if moved_at is None or progress != anchor else moved_at
    speed = _number(rate.get("per_second"))
    if progress < anchor:
        # Files joined (or a retry reset one): the same work is now a smaller share of the
        # total, so the rate in percent shrinks in the same proportion.
        if speed is not None and anchor > 0:
            speed *= progress / anchor
        state["rate"] = _rate(now, progress, speed, moved_at)
        return
    interval = now - at
    if interval < MIN_SAMPLE_INTERVAL:
        state["rate"] = {**rate, "moved_at": round(moved_at, 3)}
        return
    recent = (progress - anchor) / interval
    if speed is None:
        speed = recent
    else:
        weight = 1 - math.exp(-interval / _window(state, now))
        speed += weight * (recent - speed)
    state["rate"] = _rate(now, progress, speed, moved_at)


def _rate(now: float, progress: float, speed: float | None, moved_at: float) -> Rate:
    return {
        "at": round(now, 3),
        "progress": progress,
        "per_second": speed,
        "moved_at": round(moved_at, 3),
    }


def elapsed_seconds(state: Mapping[str, object], now: float) -> float:
    """Seconds since the start, up to the finish for a final session; 0 when unknown."""
    started = _number(state.get("started_at"))
    if started is None:
        return 0.0
    finished = _number(state.get("finished_at"))
    end = finished if finished is not None else now
    return round(max(0.0, end - started), 1)


def eta_seconds(state: Mapping[str, object], now: float, *, final: bool) -> float | None:
    """Seconds left at the session's recent pace; None while it cannot be estimated."""
    if final:
        return 0.0 if state.get("status") == "completed" else None
    progress = _number(state.get("progress")) or 0.0
    rate = state.get("rate")
    if not isinstance(rate, dict) or progress < MIN_PROGRESS:
        return None
    speed = _number(rate.get("per_second"))
    at = _number(rate.get("at"))
    if speed is None or at is None or speed <= 0:
        return None
    if elapsed_seconds(state, now) < MIN_ELAPSED:
        return None
    window = _window(state, now)
    moved_at = _number(rate.get("moved_at"))
    if moved_at is not None and now - moved_at > max(MIN_STALL, 2 * window):
        return None
    silence = now - at - GRACE
    if silence > 0:
        speed *= math.exp(-silence / window)
    left = (100 - progress) / speed if speed > 0 else math.inf
    if not left < MAX_ETA:
        return None
    return round(left, 1)
