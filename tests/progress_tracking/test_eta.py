"""Time left: the status body's estimate against the truth of known schedules (freezegun)."""

from __future__ import annotations

import bisect
import itertools
import random
import statistics
from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun import freeze_time

from progress_tracking import eta, services
from progress_tracking.serializers import ProgressStatusSerializer

pytestmark = pytest.mark.django_db

DURATION = 400.0  # seconds the whole job takes
STEP = 2.0  # seconds between two reports


def body(session_id: str) -> dict:
    return ProgressStatusSerializer(services.get_progress(session_id)).data


def steady(t: float) -> float:
    return 100 * t / DURATION


def accelerating(t: float) -> float:
    # The pace grows linearly: the last quarter of the time does ~44 % of the work.
    return 100 * (t / DURATION) ** 2


def run(knowledge, schedule: Callable[[float], float]) -> dict[int, tuple[float, float]]:
    """(estimate, truth) in seconds when the schedule first passes 20, 50 and 80 % done."""
    checkpoints = [20, 50, 80]
    seen: dict[int, tuple[float, float]] = {}
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        t = 0.0
        while checkpoints:
            frozen.tick(timedelta(seconds=STEP))
            t += STEP
            done = schedule(t)
            services.update_progress(sid, progress=round(done, 2))
            if done >= checkpoints[0]:
                answer = body(sid)
                assert answer["elapsed_seconds"] == pytest.approx(t)
                seen[checkpoints.pop(0)] = (answer["eta_seconds"], DURATION - t)
    return seen


def test_steady_work_is_estimated_within_ten_percent_after_a_fifth(knowledge):
    for estimate, truth in run(knowledge, steady).values():
        assert estimate == pytest.approx(truth, rel=0.10)


def test_accelerating_work_is_followed_not_extrapolated_from_the_start(knowledge):
    seen = run(knowledge, accelerating)
    for done, (estimate, truth) in seen.items():
        # A straight line from the start says elapsed * (100 - done) / done: far too long.
        straight = (DURATION * (done / 100) ** 0.5) * (100 - done) / done
        assert abs(estimate - truth) < abs(straight - truth) / 2, (done, estimate, truth)
    estimate, truth = seen[80]
    assert estimate == pytest.approx(truth, rel=0.25)


def test_a_stalled_session_never_counts_down(knowledge):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        for step in range(1, 31):
            frozen.tick(timedelta(seconds=STEP))
            services.update_progress(sid, progress=steady(step * STEP))
        before = body(sid)["eta_seconds"]
        assert before == pytest.approx(DURATION - 30 * STEP, rel=0.10)
        estimates = []
        # No writes at all for 4 minutes, then heartbeats only (a worker that is stuck).
        for _ in range(48):
            frozen.tick(timedelta(seconds=5))
            estimates.append(body(sid)["eta_seconds"])
        for _ in range(8):
            frozen.tick(timedelta(seconds=30))
            services.heartbeat(sid)
            estimates.append(body(sid)["eta_seconds"])
    known = [e for e in estimates if e is not None]
    assert known == sorted(known), "an estimate went down during the stall"
    assert all(e >= before for e in known)
    # Once an estimate is gone it does not come back while nothing progresses.
    first_none = estimates.index(None)
    assert all(e is None for e in estimates[first_none:])


def test_a_stall_with_heartbeats_only_makes_the_estimate_grow(knowledge):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        for step in range(1, 21):
            frozen.tick(timedelta(seconds=STEP))
            services.update_progress(sid, progress=steady(step * STEP))
        estimates = [body(sid)["eta_seconds"]]
        for _ in range(3):
            frozen.tick(timedelta(seconds=8))  # within the grace period: heartbeats only
            services.heartbeat(sid)
            estimates.append(body(sid)["eta_seconds"])
    assert estimates == sorted(estimates)
    assert estimates[-1] > estimates[0] * 1.5


def test_no_estimate_too_early_and_exact_values_once_final(knowledge):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge, files=["a.txt"])
        first = body(sid)
        assert (first["elapsed_seconds"], first["eta_seconds"]) == (0, None)
        frozen.tick(timedelta(seconds=1))
        services.update_file_progress(sid, "a.txt", progress=50)
        assert body(sid)["eta_seconds"] is None  # one second says nothing yet
        frozen.tick(timedelta(seconds=9))
        services.update_file_progress(sid, "a.txt", progress=60)
        assert body(sid)["eta_seconds"] == pytest.approx(40 / 6, rel=0.01)
        frozen.tick(timedelta(seconds=5))
        services.update_file_progress(sid, "a.txt", progress=100, status="completed")
        services.mark_session_complete(sid)
        frozen.tick(timedelta(seconds=100))
        done = body(sid)
    assert (done["elapsed_seconds"], done["eta_seconds"]) == (15, 0)


def test_a_failed_session_has_no_estimate_and_stops_its_clock(knowledge):
    with freeze_time("2026-03-01 12:00:00") as frozen:
        sid = services.start_session(knowledge)
        frozen.tick(timedelta(seconds=20))
        services.update_progress(sid, progress=40)
        services.mark_session_error(sid, "boom")
        frozen.tick(timedelta(seconds=60))
        failed = body(sid)
    assert (failed["elapsed_seconds"], failed["eta_seconds"]) == (20, None)


def test_files_joining_shrink_the_rate_in_proportion():
    state = {"started_at": 0, "progress": 0}
    for second in range(10, 101, 10):
        state["progress"] = second / 2  # 0.5 % per second
        eta.record_sample(state, second)
    assert state["rate"]["per_second"] == pytest.approx(0.5)
    state["progress"] = 25.0  # twice as many files: half the share done
    eta.record_sample(state, 101)
    assert state["rate"]["per_second"] == pytest.approx(0.25)
    assert eta.eta_seconds(state, 101, final=False) == pytest.approx(300)


def test_seed_format_progress_gets_numbers_without_a_start():
    seed = {"session_id": "0b7c6a3e-3f1e-4a56-9a0e-0f4c2f1c5a11", "status": "processing"}
    assert eta.elapsed_seconds(seed, 1000.0) == 0
    assert eta.eta_seconds(seed, 1000.0, final=False) is None
    broken = {"started_at": "yesterday", "progress": 50, "rate": {"at": None}}
    assert eta.elapsed_seconds(broken, 1000.0) == 0
    assert eta.eta_seconds(broken, 1000.0, final=False) is None


def jittered_files(seed: int, *, count: int = 40, mean: float = 10.0):
    """Steady on average, but each file takes 50-150 % of the mean: (schedule, total)."""
    rng = random.Random(seed)
    ends = list(itertools.accumulate(mean * rng.uniform(0.5, 1.5) for _ in range(count)))

    def schedule(t: float) -> float:
        done = bisect.bisect_right(ends, t)
        if done >= count:
            return 100.0
        start = ends[done - 1] if done else 0.0
        return 100 * (done + (t - start) / (ends[done] - start)) / count

    return schedule, ends[-1]


def test_files_of_uneven_length_are_estimated_within_a_useful_margin():
    errors: dict[int, list[float]] = {20: [], 50: [], 80: []}
    for seed in range(50):
        schedule, total = jittered_files(seed)
        state: dict = {"started_at": 0, "progress": 0}
        t, checkpoints = 0.0, [20, 50, 80]
        while checkpoints:
            t += STEP
            state["progress"] = round(schedule(t), 2)
            eta.record_sample(state, t)
            if state["progress"] >= checkpoints[0]:
                estimate = eta.eta_seconds(state, t, final=False)
                errors[checkpoints.pop(0)].append(abs(estimate - (total - t)) / (total - t))
    # A file's own pace says little about the next one's: measured medians 14 %, 10 %, 8 %.
    assert statistics.median(errors[50]) < 0.15
    assert all(statistics.median(found) < 0.20 for found in errors.values())
