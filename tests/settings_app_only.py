"""The smallest site that runs ``progress_tracking``: no host app, no task backend, no environ.

    python -m pytest tests/progress_tracking --ds=tests.settings_app_only

Proves the app is reusable on its own (house style: "a minimal test settings module").

The database is SQLite (a temporary file for the tests). Tests that start worker processes
pass them a shared database in ``DATABASE_URL`` (``sqlite:///file`` or ``postgres://``), read
here with the standard library only.
"""

import os
import tempfile
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

SECRET_KEY = "tests-app-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "progress_tracking",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls_app_only"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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


def database_from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    if "timeout" in options:
        options["timeout"] = float(options["timeout"])
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path) or ":memory:",
            "OPTIONS": options,
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": options,
        }
    raise ValueError(f"tests.settings_app_only cannot use DATABASE_URL {url!r}")


_url = os.environ.get("DATABASE_URL")
DATABASES = {
    "default": database_from_url(_url)
    if _url
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        # A file for the tests: threads then wait for each other's write lock instead of
        # failing with "table is locked" as the shared in-memory database does.
        "TEST": {
            "NAME": os.path.join(tempfile.gettempdir(), f"progress-app-only-{os.getpid()}.sqlite3")
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

PROGRESS_TRACKING: dict = {}

# Worker processes of the fast-path race test share a Redis cache (PROGRESS_CACHE_URL).
if os.environ.get("PROGRESS_CACHE_URL", "").startswith("redis://"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "progress": {
            "BACKEND": "progress_tracking.redis_cache.RedisCache",
            "LOCATION": os.environ["PROGRESS_CACHE_URL"],
        },
    }
    PROGRESS_TRACKING["CACHE"] = "progress"
