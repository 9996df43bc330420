"""The docs say what the code does: status body keys and every documented template tag.

The keys come from ``progress_tracking.payload`` (the TypedDicts), the one definition that
``api.md``, ``python-api.md``, ``polling.d.ts`` and the serializer are all held to.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_type_hints

import pytest
from django.template import Context, Engine

from progress_tracking import services
from progress_tracking.payload import FileEntry, Progress, Rate, StatusBody
from progress_tracking.serializers import ProgressStatusSerializer

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
DTS = ROOT / "progress_tracking" / "static" / "progress_tracking" / "polling.d.ts"

BODY_KEYS = set(get_type_hints(StatusBody))
FILE_KEYS = set(get_type_hints(FileEntry))
STORED_KEYS = set(get_type_hints(Progress))

pytestmark = pytest.mark.django_db


def test_the_serializer_renders_the_typed_body(knowledge):
    sid = services.start_session(knowledge, files=["a.txt"])
    body = ProgressStatusSerializer(services.get_progress(sid), context={"files_limit": 100}).data
    assert list(body) == list(get_type_hints(StatusBody))
    assert set(body["files"][0]) == FILE_KEYS


def api_md_section() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("## `GET {session_id}/status`")
    return text[start : text.index("\n## ", start + 1)]


def body_table_rows() -> list[str]:
    section = api_md_section()
    table = section[section.index("### The status body") :]
    return [line for line in table.splitlines() if line.startswith("| `")]


def test_the_status_body_table_lists_every_key():
    rows = body_table_rows()
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert documented == BODY_KEYS
    assert any(row.startswith("| `object_id` |") for row in rows)


def test_the_status_body_table_lists_every_file_key():
    (files_row,) = [row for row in body_table_rows() if row.startswith("| `files` |")]
    (entry,) = re.findall(r"`\{([^}]*)\}`", files_row)
    assert {key.strip() for key in entry.split(",")} == FILE_KEYS


def test_the_status_body_example_has_every_key():
    section = api_md_section()
    example = section[section.index("```json") : section.index("```\n", section.index("```json"))]
    shown = set(re.findall(r'^  "(\w+)":', example, flags=re.MULTILINE))
    assert shown == BODY_KEYS


def declared_interface(name: str) -> set[str]:
    text = DTS.read_text()
    start = text.index(f"export interface {name} {{")
    interface = text[start : text.index("\n}", start)]
    return set(re.findall(r"^  (\w+): ", interface, flags=re.MULTILINE))


def test_the_type_declarations_list_every_key():
    assert declared_interface("ProgressStatus") == BODY_KEYS
    assert declared_interface("ProgressFile") == FILE_KEYS


def stored_data_section() -> str:
    text = (ROOT / "docs" / "python-api.md").read_text()
    start = text.index("## The stored data")
    return text[start : text.index("\n## ", start + 1)]


def named(phrase: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", phrase))


def test_the_stored_data_names_what_is_computed_and_what_only_is_stored():
    section = " ".join(stored_data_section().split())
    (computed,) = re.findall(r"except ((?:`\w+`(?:, | and )?)+), which the API computes", section)
    assert named(computed) == BODY_KEYS - STORED_KEYS
    assert {"rate"} == STORED_KEYS - BODY_KEYS
    (rate,) = re.findall(r"`rate` \(((?:`\w+`(?:, )?)+)", section)
    assert named(rate) == set(get_type_hints(Rate))
    assert "`object_id`" in section
    assert "`progress_tracking.payload.Progress`" in section


TAG = re.compile(r"\{% (progress_bar|progress_tracking_assets)\b[^%]*%\}")


def documented_tags() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for match in TAG.finditer(path.read_text()):
            found.append((path.name, match.group(0)))
    return found


def test_docs_show_the_template_tags():
    names = {tag.split()[1] for _, tag in documented_tags()}
    assert names == {"progress_bar", "progress_tracking_assets"}


@pytest.mark.parametrize(("doc", "tag"), documented_tags(), ids=lambda v: str(v)[:50])
def test_every_documented_tag_renders_with_the_names_it_uses(doc, tag, knowledge):
    """A documented variable or attribute that does not exist would render the marker."""
    sid = services.start_session(knowledge, files=["a.txt"])
    engine = Engine(
        app_dirs=True,
        string_if_invalid="<<INVALID %s>>",
        libraries={
            "progress_tracking": "progress_tracking.templatetags.progress_tracking",
            "i18n": "django.templatetags.i18n",
        },
    )
    context = {
        "knowledge": knowledge,
        "session_id": sid,
        "progress": services.get_progress(sid),
    }
    html = engine.from_string("{% load progress_tracking %}" + tag).render(Context(context))
    assert "INVALID" not in html, (doc, tag, html)
    if tag.startswith("{% progress_bar knowledge") or tag.startswith("{% progress_bar session_id"):
        assert f'data-session-id="{sid}"' in html, (doc, tag)


def declared_union(name: str) -> set[str]:
    text = DTS.read_text()
    start = text.index(f"export type {name} =")
    return set(re.findall(r'"(\w+)"', text[start : text.index(";", start)]))


def test_the_type_declarations_list_every_status():
    from progress_tracking.models import FileStatus, ProgressStatus

    assert declared_union("ProgressState") == set(ProgressStatus.values)
    assert declared_union("ProgressFileState") == set(FileStatus.values)


def test_the_status_body_table_names_every_status():
    from progress_tracking.models import FileStatus, ProgressStatus

    table = api_md_section()
    for status in {*ProgressStatus.values, *FileStatus.values}:
        assert f"`{status}`" in table, status
