"""Reading a file in a child process, within a time budget.

Some files make a parser run for hours (a PDF whose 1,000 pages share one huge content
stream) or use memory without bound; no Python code can interrupt a parser stuck in one
call. The child process can be killed: the worker survives, and the file fails with a
sentence saying why.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .processing import Budget, ProcessingFailed
from .processing.base import format_duration

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None]
_END = object()


class ExtractionCrashed(Exception):
    """The child process ended without an answer (a parser bug, killed by the system)."""


def extract_in_child(
    path: str,
    *,
    filename: str,
    on_progress: ProgressCallback,
    budget: Budget,
    time_limit: float,
    memory_limit: int | None = None,
) -> str:
    """The text of the file, extracted by ``python -m knowledge.processing``.

    Raises ``ProcessingFailed`` for a file that cannot be read or takes longer than
    ``time_limit`` seconds (the child is then killed), ``ExtractionCrashed`` if the child
    dies. Exceptions from ``on_progress`` stop the child and propagate.
    """
    arguments = {
        "path": os.fspath(path),
        "filename": filename,
        "budget": asdict(budget),
        "memory_limit": memory_limit,
        "parent": os.getpid(),  # the child ends itself if this process dies
    }
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [*child_command(), json.dumps(arguments)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            cwd=_import_root(),
        )
        try:
            return _follow(child, filename, on_progress, time_limit, errors)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()


def _follow(
    child: subprocess.Popen[bytes],
    filename: str,
    on_progress: ProgressCallback,
    time_limit: float,
    errors: Any,
) -> str:
    lines: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_read_lines, args=(child, lines), daemon=True).start()
    deadline = time.monotonic() + time_limit
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(0.0, remaining) if remaining != math.inf else None)
        except queue.Empty:
            line = None
        if line is None or (time.monotonic() > deadline and child.poll() is None):
            child.kill()
            raise ProcessingFailed(
                f"Reading {filename} took longer than {format_duration(time_limit)}, the "
                "time allowed for one file, so it was stopped."
            )
        if line is _END:
            break
        message = json.loads(line)
        if "progress" in message:
            started = time.monotonic()
            on_progress(message["progress"], message["message"])
            # Time spent reporting (and the demo's slow-motion pause) is not the file's.
            deadline += time.monotonic() - started
        elif "failed" in message:
            raise ProcessingFailed(message["failed"])
        elif "text" in message:
            return str(message["text"])
    code = child.wait()
    errors.seek(0)
    detail = errors.read()[-4000:].decode("utf-8", "replace")
    logger.error("Reading %s: the child process ended with %s:\n%s", filename, code, detail)
    raise ExtractionCrashed(f"the reader process of {filename} ended with exit code {code}")


def child_command() -> list[str]:
    return [sys.executable, "-m", "knowledge.processing"]


def _read_lines(child: subprocess.Popen[bytes], lines: queue.Queue[Any]) -> None:
    assert child.stdout is not None
    for raw in child.stdout:
        lines.put(raw.decode("utf-8"))
    lines.put(_END)


def _import_root() -> str:
    """The directory from which ``knowledge`` is importable, for the child's ``-m``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
