"""System checks for settings that are each valid but cannot work together."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import checks
from django.test import override_settings

from progress_tracking.checks import check_setting_combinations


def found(**values):
    with override_settings(PROGRESS_TRACKING=values):
        return check_setting_combinations()


def ids(messages):
    return [m.id for m in messages]


def test_the_defaults_pass():
    assert found() == []


def test_a_heartbeat_not_well_below_stale_after_is_an_error():
    # The case: STALE_AFTER=5 with the default 30 s heartbeat went stale 7 s in.
    (error,) = found(STALE_AFTER=5, RECORDER_GRACE_PERIOD=2)
    assert error.id == "progress_tracking.E006" and isinstance(error, checks.Error)
    assert "30 s" in error.msg and "5 s" in error.msg
    assert "STALE_AFTER / 3" in error.hint and "1.66667 s" in error.hint


@pytest.mark.parametrize(
    ("stale", "heartbeat", "ok"),
    [(90, 30, True), (89.9, 30, False), (timedelta(minutes=1), 20, True), (60, 20.5, False)],
)
def test_the_heartbeat_bound_is_three_intervals(stale, heartbeat, ok):
    result = ids(found(STALE_AFTER=stale, HEARTBEAT_INTERVAL=heartbeat, RECORDER_GRACE_PERIOD=1))
    assert result == ([] if ok else ["progress_tracking.E006"])


def test_a_finished_ttl_not_longer_than_the_poll_interval_is_an_error():
    (error,) = found(FINISHED_TTL=2, POLL_INTERVAL=2)
    assert error.id == "progress_tracking.E007" and error.hint
    assert found(FINISHED_TTL=2.5, POLL_INTERVAL=2) == []


def test_a_grace_period_past_stale_after_is_a_warning():
    (warning,) = found(STALE_AFTER=120, HEARTBEAT_INTERVAL=10)
    assert warning.id == "progress_tracking.W001" and isinstance(warning, checks.Warning)
    assert warning.hint and "120 s" in warning.msg
    assert found(STALE_AFTER=121, HEARTBEAT_INTERVAL=10) == []


def test_invalid_values_are_left_to_e005():
    assert found(STALE_AFTER="soon", HEARTBEAT_INTERVAL=True, POLL_INTERVAL=-1) == []
    with override_settings(PROGRESS_TRACKING=["not", "a", "dict"]):
        assert check_setting_combinations() == []


def test_django_runs_them():
    with override_settings(PROGRESS_TRACKING={"STALE_AFTER": 5}):
        result = ids(checks.run_checks(tags=[checks.Tags.compatibility]))
    assert "progress_tracking.E006" in result and "progress_tracking.W001" in result
