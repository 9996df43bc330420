"""End the documents that dead workers left unfinished; run it before starting workers."""

from typing import Any

from django.core.management.base import BaseCommand

from knowledge.recovery import recover_after_restart


class Command(BaseCommand):
    help = (
        "Run while no task worker runs (before starting them): documents a worker had "
        "started, and tasks still marked running, end as errors saying the work was "
        "interrupted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        documents, tasks = recover_after_restart()
        self.stdout.write(
            f"Ended {documents} interrupted document(s) and {tasks} interrupted task(s)."
        )
