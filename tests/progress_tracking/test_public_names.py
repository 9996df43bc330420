"""One public home per function; names that moved keep working with a DeprecationWarning."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import pytest

import progress_tracking
from progress_tracking import selectors, services


def app_modules():
    for info in pkgutil.walk_packages(progress_tracking.__path__, "progress_tracking."):
        if ".migrations." not in info.name:
            yield importlib.import_module(info.name)


def test_every_service_is_defined_in_services():
    for name in services.__all__:
        assert getattr(services, name).__module__ == "progress_tracking.services", name


def test_no_other_module_of_the_app_defines_a_service_under_its_name():
    # Modules that use a service import it from services; none offers one of its own.
    defined = {
        (module.__name__, name)
        for module in app_modules()
        for name in services.__all__
        if getattr(vars(module).get(name), "__module__", None) == module.__name__
    }
    assert defined == {("progress_tracking.services", name) for name in services.__all__}


def test_selectors_get_progress_still_works_and_warns(knowledge):
    sid = services.start_session(knowledge)
    with pytest.warns(DeprecationWarning) as caught:
        from progress_tracking.selectors import get_progress
    assert str(caught[0].message) == (
        "progress_tracking.selectors.get_progress is deprecated; "
        "import it from progress_tracking.services."
    )
    assert caught[0].filename == __file__  # the warning names the importing line
    assert get_progress is services.get_progress
    assert get_progress(sid)["session_id"] == sid


def test_attribute_access_warns_too():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = selectors.get_progress
    assert found is services.get_progress
    assert [w.category for w in caught] == [DeprecationWarning]


def test_other_missing_names_of_selectors_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'get_progres'"):
        selectors.get_progres  # noqa: B018


@pytest.mark.parametrize(
    ("old_home", "name", "new_home"),
    [
        ("progress_tracking.views", "LIST_LIMIT", "progress_tracking.selectors"),
        ("progress_tracking.recorder", "TRANSIENT_ERRORS", "progress_tracking.retry"),
        ("progress_tracking.recorder", "RETRY_FIRST_DELAY", "progress_tracking.retry"),
        ("progress_tracking.recorder", "RETRY_MAX_DELAY", "progress_tracking.retry"),
    ],
)
def test_moved_constants_still_import_from_their_old_home(old_home, name, new_home):
    with pytest.warns(DeprecationWarning) as caught:
        value = getattr(importlib.import_module(old_home), name)
    assert str(caught[0].message) == f"{old_home}.{name} is deprecated; import it from {new_home}."
    assert value is getattr(importlib.import_module(new_home), name)


def test_start_session_takes_the_instance_by_position_or_as_instance(knowledge):
    first = next(iter(inspect.signature(services.start_session).parameters))
    assert first == "instance"
    sid = services.start_session(instance=knowledge)
    assert services.get_progress(sid)["object_id"] == str(knowledge.pk)
