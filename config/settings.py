"""Settings of the demo site and the test suite, read from the environment (django-environ).

Only this project maps environment variables to settings; the reusable app reads plain
Django settings.
"""

import os
import tempfile
from importlib.util import find_spec
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="insecure-demo-key-set-SECRET_KEY-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Django 6 ships django.tasks; on 5.2 the django-tasks backport provides the same API.
HAS_BUILTIN_TASKS = find_spec("django.tasks") is not None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    *([] if HAS_BUILTIN_TASKS else ["django_tasks"]),
    "django_tasks_db",
    "progress_tracking",
    "knowledge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# SQLite as recommended in docs/operations.md (measured there with 16 writers and 4 pollers).
SQLITE_OPTIONS = {
    # WAL: readers never block the writer nor the writer readers; synchronous=NORMAL is safe
    # with WAL (a power cut may lose the last commits, never corrupt) and makes a commit
    # cheap, so the write lock is held for far less time.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    # Every transaction takes the write lock when it begins: one that reads first and writes
    # later would otherwise fail at once with "database is locked" instead of waiting.
    "transaction_mode": "IMMEDIATE",
    # Web server and task worker share one file: wait for the lock instead of failing.
    "timeout": 20,
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    for _key, _value in SQLITE_OPTIONS.items():
        _options.setdefault(_key, _value)
    # Tests use a file too, not Django's shared-cache in-memory database: there a write that
    # meets another thread's (a recorder's heartbeat, a worker) fails at once with "table is
    # locked" instead of waiting for the lock as the options above make a file database do.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(tempfile.gettempdir()) / f"progress-tracking-tests-{os.getpid()}.sqlite3")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / ".staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / ".media"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "knowledge:list"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "django-progress-tracking demo API",
    "DESCRIPTION": "Polling progress of long-running work.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}

# The default, set explicitly: knowledge.Document has a ForeignKey to it, and Django writes
# such a key's migration against this setting (as with AUTH_USER_MODEL).
PROGRESS_TRACKING_MODEL = "progress_tracking.Knowledge"

_STALE_AFTER = env.float("PROGRESS_STALE_AFTER", default=300)
PROGRESS_TRACKING = {
    "STALE_AFTER": _STALE_AFTER,
    "FINISHED_TTL": env.float("PROGRESS_FINISHED_TTL", default=300),
    "POLL_INTERVAL": env.float("PROGRESS_POLL_INTERVAL", default=1),
    # The demo schedules nothing: progress traffic sweeps stale progress by itself.
    "AUTO_CLEANUP": env.bool("PROGRESS_AUTO_CLEANUP", default=True),
    # A shorter STALE_AFTER needs a shorter heartbeat (system check progress_tracking.E006).
    "HEARTBEAT_INTERVAL": env.float(
        "PROGRESS_HEARTBEAT_INTERVAL", default=min(30.0, _STALE_AFTER / 3)
    ),
    # How often a worker's progress is written at most (and so how soon it sees a cancel).
    "RECORDER_MIN_INTERVAL": env.float("PROGRESS_RECORDER_MIN_INTERVAL", default=0.5),
    # Retrying past STALE_AFTER is pointless (warning progress_tracking.W001).
    "RECORDER_GRACE_PERIOD": env.float(
        "PROGRESS_RECORDER_GRACE_PERIOD", default=min(120.0, _STALE_AFTER / 2)
    ),
}

# The fast read path (docs/operations.md): polls answer from a shared cache kept in step by the
# writes, e.g. PROGRESS_CACHE_URL=redis://127.0.0.1:6379/0. Unset: polls read the database.
if env("PROGRESS_CACHE_URL", default=""):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "progress": env.cache_url("PROGRESS_CACHE_URL"),
    }
    if CACHES["progress"]["BACKEND"].endswith("RedisCache"):
        # One redis client per pool, not per call (docs/operations.md).
        CACHES["progress"]["BACKEND"] = "progress_tracking.redis_cache.RedisCache"
        # A Redis that stops answering must cost a poll milliseconds, not a worker.
        CACHES["progress"].setdefault("OPTIONS", {}).update(
            {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        )
    PROGRESS_TRACKING["CACHE"] = "progress"

# The knowledge demo: upload limits, work allowed per file (defaults and meanings in
# knowledge/conf.py and docs/knowledge-demo.md), and an optional pause after every
# processing step (slow motion for demos and browser tests).
KNOWLEDGE_MAX_UPLOAD_BYTES = env.int("KNOWLEDGE_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
KNOWLEDGE_MAX_FILES = env.int("KNOWLEDGE_MAX_FILES", default=20)
KNOWLEDGE_FILE_TIME_LIMIT = env.float("KNOWLEDGE_FILE_TIME_LIMIT", default=600)
KNOWLEDGE_FILE_MEMORY_LIMIT = env.int("KNOWLEDGE_FILE_MEMORY_LIMIT", default=2048 * 1024 * 1024)
KNOWLEDGE_MAX_PDF_PAGES = env.int("KNOWLEDGE_MAX_PDF_PAGES", default=2000)
KNOWLEDGE_MAX_PDF_CONTENT_BYTES = env.int(
    "KNOWLEDGE_MAX_PDF_CONTENT_BYTES", default=256 * 1024 * 1024
)
KNOWLEDGE_MAX_AUDIO_SECONDS = env.float("KNOWLEDGE_MAX_AUDIO_SECONDS", default=3600)
KNOWLEDGE_FILES_AT_ONCE_PER_USER = env.int("KNOWLEDGE_FILES_AT_ONCE_PER_USER", default=1)
KNOWLEDGE_STEP_DELAY = env.float("KNOWLEDGE_STEP_DELAY", default=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
