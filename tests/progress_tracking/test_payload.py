"""The one definition of the progress dict: its constructors and defaults fill every key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TypedDict, get_type_hints

import pytest

from progress_tracking import backfill, body, payload, serializers, state
from progress_tracking.payload import FileEntry, Progress, StatusBody

STORED = set(get_type_hints(Progress))
REQUIRED = set(Progress.__required_keys__)


def test_the_body_is_the_stored_dict_but_rate_plus_what_is_computed_when_rendered():
    assert {"rate"} == STORED - REQUIRED
    assert set(get_type_hints(StatusBody)) == (
        REQUIRED
        | {
            "files_total",
            "file_list",
            "elapsed_seconds",
            "eta_seconds",
        }
    )


def test_a_new_session_has_every_stored_key():
    new = state.new_progress(
        "s", object_id="7", total_files=2, files=["a.txt"], message="hi", now=10.5
    )
    assert set(new) == REQUIRED
    assert set(new["files"][0]) == set(get_type_hints(FileEntry))
    assert (new["total_files"], new["started_at"], new["last_updated"]) == (2, 10, 10)


def test_file_defaults_are_a_new_entrys_values():
    assert payload.new_file_entry("x") == {"name": "x", **payload.FILE_DEFAULTS}


def test_a_seed_format_body_reads_every_key_through_the_defaults():
    # A seed-format dict has the identity keys; ``files`` is rendered from what there is.
    assert set(payload.BODY_DEFAULTS) | {"session_id", "status", "files"} == REQUIRED
    assert payload.BODY_DEFAULTS["version"] == 0
    assert payload.BODY_DEFAULTS["object_id"] is None


def test_the_backfill_fills_every_key_later_writes_expect():
    progress = backfill.normalise_seed_progress(
        {
            "session_id": "0b7c6a3e-3f1e-4a56-9a0e-0f4c2f1c5a11",
            "status": "processing",
            "last_updated": 100,
        },
        object_id="3",
    )
    assert progress is not None
    assert set(progress) == REQUIRED
    assert (progress["version"], progress["files"], progress["started_at"]) == (1, [], 100)
    # Each call gets a files list of its own.
    assert payload.seed_defaults()["files"] is not payload.seed_defaults()["files"]


@pytest.mark.parametrize(
    ("module", "name", "value"),
    [
        (serializers, "shown_files", body.shown_files),
        (serializers, "file_names", body.file_names),
        (serializers, "FILE_STATUS_RANK", body.FILE_STATUS_RANK),
        (serializers, "BODY_DEFAULTS", payload.BODY_DEFAULTS),
        (serializers, "FILE_DEFAULTS", payload.FILE_DEFAULTS),
    ],
)
def test_moved_names_still_import_with_a_warning(module, name, value):
    with pytest.warns(
        DeprecationWarning,
        match=f"serializers.{name} is deprecated; import it from progress_tracking",
    ):
        assert getattr(module, name) is value


def test_the_backfill_defaults_still_import_with_a_warning():
    with pytest.warns(DeprecationWarning, match="seed_defaults"):
        old = backfill.SEED_DEFAULTS
    assert old == {
        "total_files": 0,
        "processed_files": 0,
        "current_file": None,
        "progress": 0,
        "message": "",
        "error": None,
        "failed_files": 0,
        "files": [],
        "version": 1,
    }


def test_unknown_names_are_still_attribute_errors():
    with pytest.raises(AttributeError):
        serializers.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        backfill.no_such_name  # noqa: B018


def test_the_template_tags_do_not_load_drf():
    # The bar is rendered by the template layer alone: DRF stays out of a page's process
    # unless the host's own code loads it.
    code = textwrap.dedent(
        """
        import sys
        import django
        from django.conf import settings

        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "progress_tracking"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        )
        django.setup()
        import progress_tracking.admin_display
        import progress_tracking.templatetags.progress_tracking
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "rest_framework")
        assert "progress_tracking.serializers" not in sys.modules
        print(loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


class WithoutRule(TypedDict):
    session_id: str
    extra: dict[str, int]


def test_a_body_key_of_a_type_without_a_rendering_rule_fails_at_import():
    # The renderer reads its rules from the TypedDict: a new key of a new kind must get one.
    with pytest.raises(TypeError, match=r"WithoutRule\.extra"):
        body._fields(WithoutRule)
