"""Numbers the docs give for a constant or a setting are the ones the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from progress_tracking.conf import DEFAULTS
from progress_tracking.retry import RETRY_FIRST_DELAY, RETRY_MAX_DELAY
from progress_tracking.selectors import LIST_LIMIT

DOCS = Path(__file__).resolve().parents[2] / "docs"
# "`HEARTBEAT_INTERVAL` (30 s)", "`MAX_TOTAL_FILES` (1,000,000)", "`HISTORY_RETENTION` (30 days"
QUOTED_SETTING = re.compile(r"`([A-Z][A-Z_]+)` \((\d[\d,]*(?:\.\d+)?)(?: (s|days)\b)?")


def text(name: str) -> str:
    return " ".join((DOCS / name).read_text().split())


def test_settings_quoted_with_a_number_have_that_default():
    quoted = [
        (doc.name, *found)
        for doc in sorted(DOCS.glob("*.md"))
        for found in QUOTED_SETTING.findall(text(doc.name))
        if found[0] in DEFAULTS
    ]
    assert len(quoted) >= 7  # the recorder's, the limits', the cleanup's
    for doc, name, number, unit in quoted:
        default = DEFAULTS[name] / (86400 if unit == "days" else 1)
        assert float(number.replace(",", "")) == default, (doc, name)


def test_the_recorder_backoff_is_documented_as_coded():
    found = re.search(r"backoff \(([\d.]+) s doubling to ([\d.]+) s\)", text("python-api.md"))
    assert found is not None
    assert (float(found[1]), float(found[2])) == (RETRY_FIRST_DELAY, RETRY_MAX_DELAY)


def test_the_list_limit_is_documented_as_coded():
    section = text("api.md").split("## `GET ` (the prefix)")[1]
    assert f"newest change first, at most {LIST_LIMIT}." in section
