"""A concurrent poller (``python -m tests.benchmarks.poller``): one status poll after another.

Polls URL with the given Cookie header, pausing ``--pause`` seconds between polls, until it is
sent SIGINT/SIGTERM or ``--duration`` passes; then writes ``[[unix_start, seconds, status],
...]`` to ``--out``. Plain urllib on a fresh connection each time, like a browser tab's fetch
through a proxy that does not keep connections alive.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
import urllib.error
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pause", type=float, default=0.02)
    parser.add_argument("--duration", type=float, default=300)
    args = parser.parse_args()
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    request = urllib.request.Request(args.url, headers={"Cookie": args.cookie})
    samples = []
    deadline = time.monotonic() + args.duration
    while not stop and time.monotonic() < deadline:
        started = time.time()
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        samples.append([started, time.perf_counter() - t0, status])
        time.sleep(args.pause)
    with open(args.out, "w") as out:
        json.dump(samples, out)


if __name__ == "__main__":
    main()
