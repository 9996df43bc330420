"""The project's settings with four more progress models (``tests.multi_app``).

python -m pytest tests/multi tests/progress_tracking --ds=tests.settings_multi
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.multi_app"]
