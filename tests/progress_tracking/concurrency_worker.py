"""A separate worker process for the concurrency tests (run with ``python -m``).

setup                  -> prints the id of a new session on a new row
work SID WORKER N GO   -> waits for file GO, then finishes N files of its own
show SID               -> prints the stored progress as JSON
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from progress_tracking import services  # noqa: E402
from progress_tracking.models import get_progress_model  # noqa: E402


def main(command: str, *args: str) -> None:
    if command == "setup":
        model = get_progress_model()
        named = any(f.name == "name" for f in model._meta.fields)
        knowledge = model.objects.create(**({"name": "concurrency"} if named else {}))
        print(services.start_session(knowledge, total_files=0))
    elif command == "work":
        session_id, worker, count, go = args[0], int(args[1]), int(args[2]), Path(args[3])
        while not go.exists():
            time.sleep(0.01)
        for index in range(count):
            services.update_file_progress(
                session_id, f"w{worker}-f{index}.txt", progress=100, status="completed"
            )
    elif command == "show":
        print(json.dumps(services.get_progress(args[0])))


if __name__ == "__main__":
    main(*sys.argv[1:])
