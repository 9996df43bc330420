from importlib.util import find_spec

import pytest

IMMEDIATE_BACKEND = (
    "django.tasks.backends.immediate.ImmediateBackend"
    if find_spec("django.tasks")
    else "django_tasks.backends.immediate.ImmediateBackend"
)


@pytest.fixture
def immediate_tasks(settings, tmp_path):
    """Run tasks inside enqueue() and keep uploads in a temporary media folder."""
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings
