"""A separate process for the sweeper race tests (run with ``python -m``).

seed N          -> creates N rows whose processing sessions are a day old (stale)
sweep GO        -> waits for file GO, then runs one scheduled sweep; prints JSON
                   {"removed": int | null, "started": t, "ended": t}
show            -> prints JSON {"last_removed", "holder", "left"} (sessions still stored)
"""

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from progress_tracking import services, sweeper  # noqa: E402
from progress_tracking.models import CleanupLease, get_progress_model  # noqa: E402


def main(command: str, *args: str) -> None:
    if command == "seed":
        # Seeding must not start a sweep of its own (the race is what is tested).
        settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "AUTO_CLEANUP": False}
        model = get_progress_model()
        named = any(f.name == "name" for f in model._meta.fields)
        for _ in range(int(args[0])):
            row = model.objects.create(**({"name": "stale"} if named else {}))
            services.start_session(row, total_files=0)
        day_ago = timezone.now() - timedelta(days=1)
        model.objects.exclude(progress_session_id=None).update(progress_updated_at=day_ago)
    elif command == "sweep":
        go = Path(args[0])
        # Small batches make the sweep last long enough for the racers to overlap.
        settings.PROGRESS_TRACKING = {
            **settings.PROGRESS_TRACKING,
            "AUTO_CLEANUP": True,
            "CLEANUP_BATCH_SIZE": 10,
        }
        while not go.exists():
            time.sleep(0.005)
        started = time.time()
        removed = sweeper.run_scheduled_sweep()
        print(json.dumps({"removed": removed, "started": started, "ended": time.time()}))
    elif command == "show":
        lease = CleanupLease.objects.get(name=sweeper.LEASE_NAME)
        left = get_progress_model().objects.exclude(progress_session_id=None).count()
        print(
            json.dumps({"last_removed": lease.last_removed, "holder": lease.holder, "left": left})
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
