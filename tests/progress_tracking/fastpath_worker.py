"""A separate process for the fast-path race tests (run with ``python -m``).

setup                      -> prints {"session_id", "token"}: a session owned by a new user
write SID N GO             -> waits for file GO, then makes N progress updates
complete SID               -> finishes the session
read SID TOKEN GO DONE     -> waits for GO, polls with the capability (and If-None-Match)
                              until file DONE exists, polls once more a second later (a write
                              shows on every process within a second: the per-process memo);
                              prints the versions seen
"""

import json
import os
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from progress_tracking import capability, services  # noqa: E402
from progress_tracking.conf import app_settings  # noqa: E402
from progress_tracking.models import get_progress_model  # noqa: E402


def wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.005)


def setup() -> None:
    user = get_user_model().objects.create_user(f"racer-{uuid.uuid4().hex[:8]}")
    model = get_progress_model()
    values = {app_settings.OWNER_FIELD: user}
    if any(f.name == "name" for f in model._meta.fields):
        values["name"] = "race"
    session_id = services.start_session(model.objects.create(**values), total_files=0)
    token = capability.sign_read_capability(session_id, user.pk)
    print(json.dumps({"session_id": session_id, "token": token}))


def write(session_id: str, count: int, go: Path) -> None:
    wait_for(go)
    for index in range(count):
        services.update_progress(session_id, message=f"step {index} of {os.getpid()}")


def read(session_id: str, token: str, go: Path, done: Path) -> None:
    if not app_settings.CACHE:
        raise SystemExit("the race test needs PROGRESS_CACHE_URL honoured by the settings")
    client = Client(headers={capability.HEADER: token})
    url = reverse("progress_tracking:status", kwargs={"session_id": session_id})
    seen: list[int] = []
    statuses: list[str] = []
    etag = None
    wait_for(go)
    last_round = False
    while True:
        last_round = done.exists()
        if last_round:
            time.sleep(1)
        headers = {"If-None-Match": etag} if etag else {}
        response = client.get(url, headers=headers)
        if response.status_code == 200:
            body = response.json()
            seen.append(body["version"])
            statuses.append(body["status"])
            etag = response["ETag"]
        elif response.status_code == 304:
            seen.append(seen[-1])
        else:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:200]!r}")
        if last_round:
            break
    print(json.dumps({"versions": seen, "final_status": statuses[-1]}))


def main(command: str, *args: str) -> None:
    if command == "setup":
        setup()
    elif command == "write":
        write(args[0], int(args[1]), Path(args[2]))
    elif command == "complete":
        services.mark_session_complete(args[0], message="all done")
        print(json.dumps(services.get_progress(args[0])["version"]))
    elif command == "read":
        read(args[0], args[1], Path(args[2]), Path(args[3]))


if __name__ == "__main__":
    main(*sys.argv[1:])
