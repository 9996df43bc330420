"""The cleanup sweep as its own process (``python -m tests.benchmarks.sweeper``).

Runs ``manage.py cleanup_progress`` through ``call_command`` and prints JSON: wall-clock start
and end (to line up with the poller's samples), duration, the command's report, the resident
memory after Django's setup and the process's peak (``ru_maxrss``).
"""

from __future__ import annotations

import io
import json
import resource
import time
from pathlib import Path


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    before = rss_kib()
    out = io.StringIO()
    started = time.time()
    t0 = time.perf_counter()
    call_command("cleanup_progress", stdout=out)
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "started": started,
                "ended": started + seconds,
                "seconds": seconds,
                "output": out.getvalue().strip(),
                "rss_after_setup_kib": before,
                "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
