"""``manage.py cleanup_progress``: remove stale progress (the rows stay)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from progress_tracking.conf import app_settings
from progress_tracking.history import prune_history, retention
from progress_tracking.services import cleanup_stale_progress


def non_negative_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 <= seconds < 10**9:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 999999999 seconds")
    return seconds


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


T = TypeVar("T")


def _maybe(parse: Callable[[str], T], value: object) -> T | None:
    return None if value is None else parse(str(value))


class Command(BaseCommand):
    help = (
        "Remove progress not updated for the stale period (STALE_AFTER for processing "
        "sessions, FINISHED_TTL for finished ones; 300 s by default). Rows are kept. "
        "Also removes history records older than HISTORY_RETENTION (30 days by default)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if parser.called_from_command_line:
            # One readable line on stderr, not argparse's multi-line usage block (from
            # call_command, CommandParser raises CommandError instead).
            def error(message: str) -> NoReturn:
                parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")

            parser.error = error  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=non_negative_seconds,
            metavar="SECONDS",
            help="Remove any session not updated for more than SECONDS instead.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be removed; change nothing."
        )
        parser.add_argument(
            "--keep-history",
            action="store_true",
            help="Leave history records alone (they are pruned after HISTORY_RETENTION).",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            metavar="N",
            help="Sessions removed per transaction (default: CLEANUP_BATCH_SIZE, 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command(older_than=...) skips argparse types: validate keyword values too.
        try:
            older = _maybe(non_negative_seconds, options["older_than"])
            batch_size = _maybe(positive_int, options["batch_size"])
        except argparse.ArgumentTypeError as exc:
            raise CommandError(str(exc)) from None
        older_than = None if older is None else timedelta(seconds=older)
        try:
            count = cleanup_stale_progress(
                older_than=older_than, dry_run=options["dry_run"], batch_size=batch_size
            )
            pruned = (
                0
                if options.get("keep_history")
                else prune_history(dry_run=options["dry_run"], batch_size=batch_size)
            )
        except DatabaseError as exc:
            first_line = next(iter(str(exc).splitlines()), type(exc).__name__)
            raise CommandError(f"Database error, nothing more was removed: {first_line}") from exc
        if older_than is None:
            period = (
                f"processing > {app_settings.STALE_AFTER.total_seconds():g}s, "
                f"finished > {app_settings.FINISHED_TTL.total_seconds():g}s"
            )
        else:
            period = f"older than {older:g}s"
        verb = "Would remove" if options["dry_run"] else "Removed"
        noun = "session" if count == 1 else "sessions"
        self.stdout.write(f"{verb} {count} stale progress {noun} ({period}).")
        if pruned:
            # Only when there was history to prune: the first line stays the whole output of
            # a run that had none, as scripts parsing it expect.
            records = "record" if pruned == 1 else "records"
            days = retention().total_seconds() / 86400
            self.stdout.write(f"{verb} {pruned} history {records} (older than {days:g} days).")
