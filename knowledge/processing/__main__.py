"""The child process that reads one file: ``python -m knowledge.processing``.

Run by ``knowledge.isolation``, so that a file that makes a parser run away can be stopped
(the process is killed) without taking the worker down. Arguments: the path, the file's
name, the budget and the memory limit as one JSON object on the command line. Output: one
JSON object per line on the protocol stream (the original standard output):
``{"progress": f, "message": m}`` for every step, then ``{"text": ...}`` or
``{"failed": sentence}``. Anything else (a crash) exits non-zero with a traceback on
standard error.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import IO, Any

from . import Budget, ProcessingFailed, extract_text


def _protocol_stream() -> IO[str]:
    # Parsers and native libraries may print; only this stream carries the protocol.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return protocol


def _limit_memory(limit: int | None) -> None:
    if not limit:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _exit_with_parent(parent: int | None, interval: float = 0.5) -> None:
    """End this process when the worker that started it dies (killed, out of memory).

    Otherwise a runaway file would go on using a CPU for hours with nobody to stop it.
    ``parent`` is the worker's pid as the worker saw it (it may already be gone by now).
    """
    if parent is None:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(arguments: dict[str, Any]) -> int:
    protocol = _protocol_stream()

    def send(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    _limit_memory(arguments.get("memory_limit"))
    try:
        text = extract_text(
            arguments["path"],
            filename=arguments["filename"],
            on_progress=lambda fraction, message: send({"progress": fraction, "message": message}),
            budget=Budget(**arguments.get("budget", {})),
        )
    except ProcessingFailed as exc:
        send({"failed": str(exc)})
    except MemoryError:
        send({"failed": "Reading this file needs more memory than a file is allowed."})
    else:
        send({"text": text})
    return 0


if __name__ == "__main__":
    _arguments = json.loads(sys.argv[1])
    _exit_with_parent(_arguments.get("parent"))
    sys.exit(main(_arguments))
