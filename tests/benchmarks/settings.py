"""Settings of the benchmark server: the demo project, plus a minimal endpoint to compare.

- ``ROOT_URLCONF`` adds ``/bench/ok`` (see ``urls.py``) and serves static files without
  ``DEBUG``, so one gunicorn serves both the API and the browser pages.
- Sessions stay alive for the whole run (``STALE_AFTER``/``FINISHED_TTL`` of a day), and the
  automatic cleanup is off unless ``BENCH_AUTO_CLEANUP`` turns it on.
- Database connections persist (``CONN_MAX_AGE``), as on any production site: otherwise
  every request would pay a new PostgreSQL connection, which would hide the app's cost.
"""

from config.settings import *  # noqa: F403
from config.settings import DATABASES, PROGRESS_TRACKING, env

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.benchmarks.urls"

DATABASES["default"]["CONN_MAX_AGE"] = 600

PROGRESS_TRACKING = {
    **PROGRESS_TRACKING,
    "STALE_AFTER": env.float("BENCH_STALE_AFTER", default=86400),
    "FINISHED_TTL": env.float("BENCH_FINISHED_TTL", default=86400),
    # Off unless a scenario measures it: the cleanup scenario sweeps with the command.
    "AUTO_CLEANUP": env.bool("BENCH_AUTO_CLEANUP", default=False),
    # Read capabilities outlive a whole run (the default is 10 minutes).
    "CAPABILITY_MAX_AGE": 3600,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
