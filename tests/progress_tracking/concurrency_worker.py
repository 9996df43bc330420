"""A separate worker process for the concurrency tests (run with ``python -m``).

setup                  -> prints the id of a new session on a new row
work SID WORKER N GO   -> waits for file GO, then finishes N files of its own
show SID               -> prints the stored progress as JSON
rows K                 -> prints JSON [[pk, session id], ...] of K new rows with a session
host PK WORKER N GO    -> saves its own older instance of row PK N times (host field + host meta
                          key); a last argument "plain" bypasses the protection (to measure it)
progress SIDS WORKER N GO -> finishes N files of its own on each session (SIDS comma-separated)
row PK                 -> prints the row's meta and host field as JSON
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import models  # noqa: E402

from progress_tracking import services  # noqa: E402
from progress_tracking.models import get_progress_model  # noqa: E402


def main(command: str, *args: str) -> None:
    if command == "setup":
        model = get_progress_model()
        knowledge = model.objects.create(**({"name": "concurrency"} if _named(model) else {}))
        print(services.start_session(knowledge, total_files=0))
    elif command == "work":
        session_id, worker, count, go = args[0], int(args[1]), int(args[2]), Path(args[3])
        while not go.exists():
            time.sleep(0.01)
        for index in range(count):
            services.update_file_progress(
                session_id, f"w{worker}-f{index}.txt", progress=100, status="completed"
            )
    elif command == "rows":
        model = get_progress_model()
        rows = []
        for index in range(int(args[0])):
            row = model.objects.create(**({"name": f"row {index}"} if _named(model) else {}))
            rows.append([row.pk, services.start_session(row, total_files=0)])
        print(json.dumps(rows))
    elif command == "host":
        pk, worker, count, go = args[0], int(args[1]), int(args[2]), Path(args[3])
        plain = args[4:] == ("plain",)
        model = get_progress_model()
        instance = model.objects.get(pk=pk)  # loaded once: older than every progress write
        while not go.exists():
            time.sleep(0.01)
        for index in range(count):
            if not plain and index % 3 == 2:
                instance.refresh_from_db()
            instance.meta[f"host{worker}"] = index
            if _named(model):
                instance.name = f"h{worker}-{index}"
            if plain:
                models.Model.save(instance)
            elif index % 3 == 1:
                instance.save(update_fields=["meta", *(["name"] if _named(model) else [])])
            else:
                instance.save()
    elif command == "progress":
        sids, worker, count, go = args[0].split(","), int(args[1]), int(args[2]), Path(args[3])
        while not go.exists():
            time.sleep(0.01)
        for index in range(count):
            for sid in sids:
                services.update_file_progress(
                    sid, f"p{worker}-f{index}.txt", progress=100, status="completed"
                )
    elif command == "row":
        row = get_progress_model()._base_manager.get(pk=args[0])
        print(json.dumps({"meta": row.meta, "name": getattr(row, "name", None)}))
    elif command == "show":
        print(json.dumps(services.get_progress(args[0])))


def _named(model: type) -> bool:
    return any(f.name == "name" for f in model._meta.fields)


if __name__ == "__main__":
    main(*sys.argv[1:])
