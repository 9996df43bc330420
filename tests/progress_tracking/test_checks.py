"""System checks: every id, its message and its hint (progress_tracking.E001...E015, W...).

The checks of settings that cannot work together are in test_checks_combinations.py, those of
the fast read path in test_fastpath.py.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.test import override_settings
from rest_framework.permissions import IsAuthenticated

from progress_tracking.checks import (
    check_authentication,
    check_model,
    check_setting_combinations,
    check_settings,
)
from progress_tracking.conf import DEFAULTS
from progress_tracking.models import Knowledge


def ids(errors):
    return [e.id for e in errors]


def only(errors, id_):
    assert ids(errors) == [f"progress_tracking.{id_}"], errors
    error = errors[0]
    assert isinstance(error, checks.Error) and error.hint
    return error


def first_of_each_model(errors, id_):
    """One error per progress model that uses the setting (one model in the demo site)."""
    assert errors and set(ids(errors)) == {f"progress_tracking.{id_}"}, errors
    assert all(isinstance(e, checks.Error) and e.hint for e in errors)
    return errors[0]


def pt(**values):
    """override_settings with ``values`` added to the project's PROGRESS_TRACKING."""
    return override_settings(
        PROGRESS_TRACKING={**getattr(django_settings, "PROGRESS_TRACKING", {}), **values}
    )


def test_the_configured_project_passes_every_check():
    assert check_settings() == []
    assert check_model() == []
    assert check_authentication() == []
    ours = [e for e in checks.run_checks() if e.id and e.id.startswith("progress_tracking.")]
    assert ours == []


def test_checks_are_registered_and_run_by_django():
    with pt(STALE_AFTER=-1):
        found = ids(checks.run_checks(tags=[checks.Tags.compatibility]))
    assert "progress_tracking.E005" in found
    with override_settings(PROGRESS_TRACKING_MODEL="nope.Nothing"):
        found = ids(checks.run_checks(tags=[checks.Tags.models]))
    assert "progress_tracking.E008" in found


@pytest.mark.parametrize(
    "values",
    [
        {},
        {k: v for k, v in DEFAULTS.items() if k != "OWNER_FIELD"},
        {"STALE_AFTER": timedelta(minutes=5), "FINISHED_TTL": 0.5, "POLL_INTERVAL": 0.25},
        {"HISTORY_RETENTION": timedelta(days=7), "HISTORY": False},
        {"FILES_LIMIT": 1, "CLEANUP_BATCH_SIZE": 10**400, "HEARTBEAT_INTERVAL": 1},
        {"PERMISSION_CLASSES": [IsAuthenticated], "AUTHENTICATION_CLASSES": None},
        {"AUTHENTICATION_CLASSES": ("rest_framework.authentication.BasicAuthentication",)},
        {"OWNER_FIELD": None, "WRITE_OUTSIDE_TRANSACTION": False},
    ],
    ids=repr,
)
def test_valid_settings_pass(values):
    with pt(**values):
        assert check_settings() == []
        assert check_model() == []


def test_missing_progress_tracking_setting_passes(settings):
    del settings.PROGRESS_TRACKING
    assert check_settings() == []


@pytest.mark.parametrize(
    ("label", "says"),
    [
        ("Knowledge", "must be of the form 'app_label.ModelName'"),
        ("progress_tracking.Knowledge.extra", "must be of the form"),
        (42, "must be a string"),
    ],
)
def test_e001_progress_tracking_model_that_is_not_a_model_label(label, says):
    with override_settings(PROGRESS_TRACKING_MODEL=label):
        error = only(check_model(), "E001")
    assert says in error.msg and "PROGRESS_TRACKING_MODEL" in error.msg
    assert "'myapp.Document'" in error.hint


@pytest.mark.parametrize("label", ["nope.Nothing", "progress_tracking.Missing"])
def test_e008_progress_tracking_model_that_is_not_installed(label):
    with override_settings(PROGRESS_TRACKING_MODEL=label):
        error = only(check_model(), "E008")
    assert "has not been installed" in error.msg and repr(label) in error.msg
    assert "INSTALLED_APPS" in error.hint


@pytest.mark.parametrize("label", ["auth.User", "auth.Group"])
def test_e009_progress_tracking_model_that_does_not_inherit_the_abstract_model(label):
    with override_settings(PROGRESS_TRACKING_MODEL=label):
        error = only(check_model(), "E009")
    assert "must inherit from progress_tracking.models.AbstractProgressModel" in error.msg
    assert "AbstractProgressModel" in error.hint


@pytest.mark.parametrize("owner", ["missing", "meta", "progress_session_id", 5])
def test_e002_owner_field_that_is_not_a_foreign_key_to_the_user(owner):
    with pt(OWNER_FIELD=owner):
        error = first_of_each_model(check_model(), "E002")
    assert repr(owner) in error.msg and "foreign key" in error.msg
    assert "OWNER_FIELD" in error.hint and "None" in error.hint


def test_e002_foreign_key_to_another_model(settings):
    # A user model of its own makes the default owner field point at the wrong model.
    settings.AUTH_USER_MODEL = "auth.Group"
    error = first_of_each_model(check_model(), "E002")
    assert "not a foreign key to the user model" in error.msg


@pytest.mark.parametrize("value", [None, [("STALE_AFTER", 1)], "STALE_AFTER=300", 300])
def test_e003_progress_tracking_not_a_dict(value):
    with override_settings(PROGRESS_TRACKING=value):
        error = only(check_settings(), "E003")
    assert error.msg == "PROGRESS_TRACKING must be a dict."
    assert "PROGRESS_TRACKING = {" in error.hint


def test_e003_still_lets_the_model_check_run():
    # The owner field falls back to its default, "user".
    expected = [] if not Knowledge._meta.swapped else ["progress_tracking.E002"]
    with override_settings(PROGRESS_TRACKING=["x"]):
        assert ids(check_model()) == expected


def test_e004_unknown_keys_are_listed_with_the_valid_ones():
    with override_settings(PROGRESS_TRACKING={"STALE_AFTR": 300, "POLL": 1, "STALE_AFTER": 300}):
        error = only(check_settings(), "E004")
    assert "POLL, STALE_AFTR" in error.msg
    assert error.hint.startswith("Valid keys are ")
    for key in DEFAULTS:
        assert key in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("STALE_AFTER", 0),
        ("STALE_AFTER", -1),
        ("STALE_AFTER", "300"),
        ("STALE_AFTER", True),
        ("STALE_AFTER", None),
        ("STALE_AFTER", math.nan),
        ("STALE_AFTER", math.inf),
        ("STALE_AFTER", 1e300),
        ("FINISHED_TTL", timedelta(0)),
        ("FINISHED_TTL", timedelta(seconds=-5)),
        ("HISTORY_RETENTION", 0),
        ("HISTORY_RETENTION", "30d"),
        ("HISTORY_RETENTION", None),
        ("HISTORY_RETENTION", timedelta(days=-1)),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_e005_duration_that_is_not_positive(key, value):
    with pt(**{key: value}):
        error = only(check_settings(), "E005")
    assert f"PROGRESS_TRACKING['{key}'] must be a positive number of seconds" in error.msg
    assert error.hint.startswith("The default is ") and "seconds" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("POLL_INTERVAL", 0),
        ("POLL_INTERVAL", "1"),
        ("POLL_INTERVAL", math.nan),
        ("POLL_INTERVAL", math.inf),
        ("RECORDER_MIN_INTERVAL", -0.5),
        ("HEARTBEAT_INTERVAL", False),
        ("FILES_LIMIT", 0),
        ("FILES_LIMIT", 1.5),
        ("FILES_LIMIT", True),
        ("CLEANUP_BATCH_SIZE", -10),
        ("CLEANUP_BATCH_SIZE", None),
        ("AUTO_CLEANUP_INTERVAL", 0),
        ("AUTO_CLEANUP_INTERVAL", "60"),
        ("CAPABILITY_MAX_AGE", 0),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_e010_number_that_is_not_positive(key, value):
    with pt(**{key: value}):
        error = only(check_settings(), "E010")
    assert f"PROGRESS_TRACKING['{key}'] must be a positive " in error.msg
    assert error.hint == f"The default is {DEFAULTS[key]}."


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WRITE_OUTSIDE_TRANSACTION", "yes"),
        ("WRITE_OUTSIDE_TRANSACTION", 1),
        ("STAFF_ACCESS", "no"),
        ("STAFF_ACCESS", 0),
        ("AUTO_CLEANUP", "false"),
        ("AUTO_CLEANUP", None),
        ("HISTORY", "yes"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_e011_flag_that_is_not_a_bool(key, value):
    with pt(**{key: value}):
        error = only(check_settings(), "E011")
    assert f"PROGRESS_TRACKING['{key}'] must be True or False" in error.msg
    assert error.hint == f"The default is {DEFAULTS[key]}."


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PERMISSION_CLASSES", "rest_framework.permissions.IsAuthenticated"),
        ("PERMISSION_CLASSES", None),
        ("PERMISSION_CLASSES", [42]),
        ("PERMISSION_CLASSES", [IsAuthenticated, None]),
        ("AUTHENTICATION_CLASSES", "rest_framework.authentication.BasicAuthentication"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_e012_class_list_that_is_not_a_list_of_classes(key, value):
    with pt(**{key: value}):
        error = only(check_settings(), "E012")
    assert f"PROGRESS_TRACKING['{key}'] must be a list or tuple" in error.msg
    assert "list of DRF classes" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PERMISSION_CLASSES", ["rest_framework.permissions.DoesNotExist"]),
        ("PERMISSION_CLASSES", [IsAuthenticated, "nodots"]),
        ("AUTHENTICATION_CLASSES", ["no.such.module.Auth"]),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_e014_class_path_that_cannot_be_imported(key, value):
    with pt(**{key: value}):
        error = only(check_settings(), "E014")
    assert f"PROGRESS_TRACKING['{key}'] names {value[-1]!r}, which cannot be imported" in (
        error.msg
    )
    assert "dotted path" in error.hint


def test_every_bad_value_is_reported_with_the_default_in_its_hint():
    with pt(STALE_AFTER=-1, FINISHED_TTL="x", FILES_LIMIT=0, BOGUS=1):
        errors = check_settings()
    assert sorted(ids(errors)) == [
        "progress_tracking.E004",
        "progress_tracking.E005",
        "progress_tracking.E005",
        "progress_tracking.E010",
    ]
    hints = {e.hint for e in errors if not e.id.endswith("E004")}
    assert hints == {"The default is 300 seconds.", "The default is 100."}


# --- W010: the progress API would authenticate nobody ----------------------------------------


def only_warning(found):
    assert ids(found) == ["progress_tracking.W010"], found
    assert isinstance(found[0], checks.Warning)
    return found[0]


def test_w010_host_drf_defaults_name_no_authentication(settings):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": []}
    warning = only_warning(check_authentication())
    assert "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] is empty" in warning.msg
    assert "PROGRESS_TRACKING['AUTHENTICATION_CLASSES']" in warning.hint
    # Django runs it (security tag) with the other checks.
    assert "progress_tracking.W010" in ids(checks.run_checks(tags=[checks.Tags.security]))


def test_w010_is_silenced_by_the_apps_own_authentication_classes(settings):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": []}
    with pt(AUTHENTICATION_CLASSES=["rest_framework.authentication.SessionAuthentication"]):
        assert check_authentication() == []


def test_w010_when_the_apps_own_list_is_empty():
    with pt(AUTHENTICATION_CLASSES=[]):
        warning = only_warning(check_authentication())
    assert "PROGRESS_TRACKING['AUTHENTICATION_CLASSES'] is empty" in warning.msg


def test_w002_a_sweep_interval_longer_than_a_stale_period():
    with pt(AUTO_CLEANUP_INTERVAL=600, STALE_AFTER=300, FINISHED_TTL=900):
        assert check_settings() == []
        warnings = check_setting_combinations()
    assert ids(warnings) == ["progress_tracking.W002"]
    assert isinstance(warnings[0], checks.Warning)
    assert "600" in warnings[0].msg and "300 s" in warnings[0].msg
    assert warnings[0].hint


@pytest.mark.parametrize(
    "values",
    [
        {"AUTO_CLEANUP_INTERVAL": 300, "STALE_AFTER": 300, "FINISHED_TTL": 300},
        {"AUTO_CLEANUP_INTERVAL": 600, "STALE_AFTER": 300, "AUTO_CLEANUP": False},
        {"AUTO_CLEANUP_INTERVAL": 600, "STALE_AFTER": -1},  # E005 already says what is wrong
    ],
)
def test_no_w002_when_the_interval_fits_or_cleanup_is_off(values):
    with pt(**values):
        assert "progress_tracking.W002" not in ids(check_setting_combinations())


# --- the ids themselves ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"progress_tracking\.([EW]\d{3})")


def test_each_id_is_raised_in_one_place_and_documented():
    """One id per problem: each id is written once in the checks' code, and the table of
    checks in docs/configuration.md lists exactly the ids the code raises."""
    emitted = [
        found
        for module in sorted((ROOT / "progress_tracking").glob("checks*.py"))
        for found in re.findall(r'"progress_tracking\.([EW]\d{3})"', module.read_text())
    ]
    assert len(emitted) == len(set(emitted)), sorted(emitted)
    docs = (ROOT / "docs" / "configuration.md").read_text()
    table = docs[docs.index("## System checks") :]
    table = table[: table.index("\n## ", 1)]
    documented = re.findall(r"^\| `progress_tracking\.([EW]\d{3})` \|", table, re.MULTILINE)
    assert sorted(documented) == sorted(emitted)
    errors = sorted(i for i in emitted if i.startswith("E"))
    assert errors == [f"E{n:03}" for n in range(1, len(errors) + 1)], "no gaps in the errors"
