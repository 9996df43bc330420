"""The knowledge demo's settings, with their defaults in one place.

Read at each use, so ``override_settings`` (and the test ``settings`` fixture) work.
"""

from __future__ import annotations

from django.conf import settings

from .processing import Budget

MIB = 1024 * 1024

DEFAULTS: dict[str, float | None] = {
    # Uploads
    "KNOWLEDGE_MAX_UPLOAD_BYTES": 25 * MIB,
    "KNOWLEDGE_MAX_FILES": 20,
    # Work per file: a file needing more fails with a sentence saying which limit it met.
    "KNOWLEDGE_FILE_TIME_LIMIT": 600.0,  # seconds; the reader process is then killed
    "KNOWLEDGE_FILE_MEMORY_LIMIT": 2048 * MIB,  # address space of the reader process
    "KNOWLEDGE_MAX_PDF_PAGES": 2000,
    "KNOWLEDGE_MAX_PDF_CONTENT_BYTES": 256 * MIB,
    "KNOWLEDGE_MAX_AUDIO_SECONDS": 3600.0,
    # Files of one user read at the same time; the others wait in the queue (0: no limit).
    # Run more workers than this, and one user's batch never holds up another's upload.
    "KNOWLEDGE_FILES_AT_ONCE_PER_USER": 1,
    # A pause after every processing step (slow motion for demos and browser tests).
    "KNOWLEDGE_STEP_DELAY": 0.0,
}


def _number(name: str) -> float:
    value = getattr(settings, name, DEFAULTS[name])
    return float(value) if value is not None else float("inf")


def max_upload_bytes() -> int:
    return int(_number("KNOWLEDGE_MAX_UPLOAD_BYTES"))


def max_files() -> int:
    return int(_number("KNOWLEDGE_MAX_FILES"))


def file_time_limit() -> float:
    return _number("KNOWLEDGE_FILE_TIME_LIMIT")


def file_memory_limit() -> int | None:
    limit = _number("KNOWLEDGE_FILE_MEMORY_LIMIT")
    return int(limit) if limit != float("inf") else None


def files_at_once_per_user() -> int:
    return int(_number("KNOWLEDGE_FILES_AT_ONCE_PER_USER"))


def step_delay() -> float:
    return _number("KNOWLEDGE_STEP_DELAY")


def budget() -> Budget:
    pages, content, audio = (
        _number(name)
        for name in (
            "KNOWLEDGE_MAX_PDF_PAGES",
            "KNOWLEDGE_MAX_PDF_CONTENT_BYTES",
            "KNOWLEDGE_MAX_AUDIO_SECONDS",
        )
    )
    infinite = float("inf")
    return Budget(
        max_pages=int(pages) if pages != infinite else None,
        max_pdf_content_bytes=int(content) if content != infinite else None,
        max_audio_seconds=audio if audio != infinite else None,
    )
