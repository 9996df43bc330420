"""Database-backed progress tracking for long-running work in Django."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("django-progress-tracking")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"
