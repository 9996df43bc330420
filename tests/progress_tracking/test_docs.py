"""The docs say what the code does: status body keys and every documented template tag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Engine

from progress_tracking import services
from progress_tracking.serializers import ProgressStatusSerializer

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
DTS = ROOT / "progress_tracking" / "static" / "progress_tracking" / "polling.d.ts"

pytestmark = pytest.mark.django_db


def body_keys(knowledge) -> set[str]:
    sid = services.start_session(knowledge, files=["a.txt"])
    progress = services.get_progress(sid)
    return set(ProgressStatusSerializer(progress, context={"files_limit": 100}).data)


def api_md_section() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("## `GET {session_id}/status`")
    return text[start : text.index("\n## ", start + 1)]


def test_the_status_body_table_lists_every_key(knowledge):
    section = api_md_section()
    table = section[section.index("### The status body") :]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert documented == body_keys(knowledge)


def test_the_status_body_example_has_every_key(knowledge):
    section = api_md_section()
    example = section[section.index("```json") : section.index("```\n", section.index("```json"))]
    shown = set(re.findall(r'^  "(\w+)":', example, flags=re.MULTILINE))
    assert shown == body_keys(knowledge)


def test_the_type_declarations_list_every_key(knowledge):
    text = DTS.read_text()
    start = text.index("export interface ProgressStatus {")
    interface = text[start : text.index("\n}", start)]
    declared = set(re.findall(r"^  (\w+): ", interface, flags=re.MULTILINE))
    assert declared == body_keys(knowledge)


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
