"""Signals sent after the write that caused them has committed.

Each is sent with ``session_id`` (str) and ``progress`` (a copy of the stored dict).
"""

from django.dispatch import Signal

progress_started = Signal()
progress_updated = Signal()
progress_completed = Signal()
progress_failed = Signal()
progress_cancelled = Signal()
