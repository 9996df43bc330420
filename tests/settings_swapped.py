"""The project's settings with progress stored on a host's own model, ``swapped_app.Document``.

    python -m pytest tests/swapped --ds=tests.settings_swapped

The reference host ``knowledge`` is left out: it is built on the default
``progress_tracking.Knowledge`` (a foreign key to it), which is swapped out here, exactly as
a host that adopts its own model would not install it.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, PROGRESS_TRACKING

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "knowledge"] + ["tests.swapped_app"]
ROOT_URLCONF = "tests.urls_app_only"

PROGRESS_TRACKING_MODEL = "swapped_app.Document"
PROGRESS_TRACKING = {**PROGRESS_TRACKING, "OWNER_FIELD": "owner"}
