"""Settings: one typed property per ``PROGRESS_TRACKING`` key, read on every access."""

from __future__ import annotations

from datetime import timedelta

import pytest

from progress_tracking.conf import DEFAULTS, AppSettings, app_settings, as_timedelta


def test_every_setting_has_a_typed_property_and_nothing_else_does():
    properties = {name for name, value in vars(AppSettings).items() if isinstance(value, property)}
    assert properties == set(DEFAULTS) | {"MODEL"}
    for name in properties:
        assert "return" in vars(AppSettings)[name].fget.__annotations__, name


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_each_property_reads_the_host_value_then_the_default(name, settings):
    settings.PROGRESS_TRACKING = {}
    default = getattr(app_settings, name)
    settings.PROGRESS_TRACKING = {name: 42}
    assert getattr(app_settings, name) in (42, timedelta(seconds=42))
    expected = DEFAULTS[name]
    assert default == (as_timedelta(expected) if isinstance(default, timedelta) else expected)


def test_durations_are_timedeltas(settings):
    settings.PROGRESS_TRACKING = {"STALE_AFTER": timedelta(minutes=2), "FINISHED_TTL": 30}
    assert timedelta(minutes=2) == app_settings.STALE_AFTER
    assert timedelta(seconds=30) == app_settings.FINISHED_TTL
    assert timedelta(days=30) == app_settings.HISTORY_RETENTION


def test_an_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError):
        app_settings.STALE_AFTR  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("value", ["300", None, [1]])
def test_a_duration_of_another_type_is_a_type_error(value):
    with pytest.raises(TypeError):
        as_timedelta(value)
