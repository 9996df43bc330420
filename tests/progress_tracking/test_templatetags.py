"""``{% progress_bar %}`` and ``{% progress_tracking_assets %}``: markup, ARIA, data attributes."""

from __future__ import annotations

import re
import types
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import include, path

from progress_tracking import services
from progress_tracking.templatetags.progress_tracking import api_base_url

STATIC_DIR = (
    Path(__file__).resolve().parents[2] / "progress_tracking" / "static" / "progress_tracking"
)


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node] = []
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        own = "".join(self.text_parts)
        return " ".join((own + " " + " ".join(c.text for c in self.children)).split())

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def find_all(self, **attrs: str | None) -> list[Node]:
        def matches(node: Node) -> bool:
            return all(
                name.replace("_", "-") in node.attrs
                and (value is None or node.attrs[name.replace("_", "-")] == value)
                for name, value in attrs.items()
            )

        return [node for node in self.walk() if matches(node)]

    def find(self, **attrs: str | None) -> Node:
        found = self.find_all(**attrs)
        assert len(found) == 1, f"{attrs}: {len(found)} matches"
        return found[0]


VOID = {"link", "meta", "br", "img", "input", "hr"}


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, "unclosed element"
    return builder.root


def render(tag: str, **context) -> str:
    return Template("{% load progress_tracking %}" + tag).render(Context(context))


def render_bar(tag: str = "{% progress_bar sid %}", **context) -> Node:
    root = parse(render(tag, **context))
    return root.find(data_progress_tracking=None)


@pytest.fixture
def unknown_id() -> str:
    return str(uuid.uuid4())


# -- the bar ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_bar_is_an_accessible_progressbar(unknown_id):
    bar = render_bar(sid=unknown_id)
    progressbar = bar.find(role="progressbar")
    assert progressbar.attrs["aria-valuemin"] == "0"
    assert progressbar.attrs["aria-valuemax"] == "100"
    assert progressbar.attrs["aria-valuenow"] == "0"
    assert progressbar.attrs["aria-valuetext"] == "0%"
    assert progressbar.attrs["aria-busy"] == "true"
    label = bar.find(id=progressbar.attrs["aria-labelledby"])
    assert label.text == "Progress"
    description = bar.find(id=progressbar.attrs["aria-describedby"])
    assert description.text == "Processing…"
    live = bar.find(data_progress_tracking_live=None)
    assert live.attrs["role"] == "status"
    assert live.attrs["aria-live"] == "polite"
    assert live.attrs["aria-atomic"] == "true"
    assert live.text == ""
    assert "progress-tracking__live" in live.attrs["class"]


@pytest.mark.django_db
def test_bar_carries_what_the_script_needs(unknown_id):
    bar = render_bar(sid=unknown_id)
    assert bar.attrs["data-session-id"] == unknown_id
    assert bar.attrs["data-base-url"] == "/api/v1/progress"
    assert bar.attrs["data-interval"] == "1000"
    assert bar.attrs["data-state"] == "processing"
    assert bar.attrs["data-status"] == "processing"
    assert bar.attrs["data-progress"] == "0"
    assert "hidden" not in bar.attrs
    assert "data-resume" not in bar.attrs


def test_every_hook_of_progress_bar_js_is_in_the_partial():
    script = (STATIC_DIR / "progress_bar.js").read_text()
    hooks = set(re.findall(r'part\((?:this\.)?element, "([\w-]+)"\)', script))
    assert hooks >= {"bar", "percent", "message", "files", "live", "eta"}
    bar = render_bar(sid="not-a-uuid")
    for hook in hooks:
        assert bar.find_all(**{f"data_progress_tracking_{hook}": None}), hook


def test_label_interval_and_base_url_can_be_given():
    bar = render_bar(
        '{% progress_bar sid label=label interval=2500 base_url="/p/api/" %}',
        sid="x",
        label="Importing <files>",
    )
    assert bar.find(id=bar.find(role="progressbar").attrs["aria-labelledby"]).text == (
        "Importing <files>"
    )
    assert bar.attrs["data-interval"] == "2500"
    assert bar.attrs["data-base-url"] == "/p/api"


@pytest.mark.parametrize(
    "odd_id",
    [
        '"><script>alert(1)</script>',
        "a b&c=d'e",
        "ünïcødé/../status",
        "  padded  ",
    ],
)
def test_odd_session_ids_are_escaped(odd_id):
    html = render("{% progress_bar sid %}", sid=odd_id)
    assert "<script" not in html
    bar = parse(html).find(data_progress_tracking=None)
    assert bar.attrs["data-session-id"] == odd_id.strip()


def test_uuid_objects_are_accepted():
    session_id = uuid.uuid4()
    bar = render_bar("{% progress_bar sid status=status %}", sid=session_id, status={})
    assert bar.attrs["data-session-id"] == str(session_id)


@pytest.mark.parametrize("empty", [None, ""])
def test_no_session_renders_a_hidden_idle_bar(empty):
    bar = render_bar(sid=empty)
    assert "hidden" in bar.attrs
    assert bar.attrs["data-session-id"] == ""
    assert bar.attrs["data-state"] == "idle"
    assert bar.attrs["data-status"] == ""
    assert "aria-busy" not in bar.find(role="progressbar").attrs


def test_missing_variable_renders_an_idle_bar():
    bar = render_bar("{% progress_bar no_such_variable %}")
    assert "hidden" in bar.attrs


def test_idle_bar_can_resume_and_discover():
    bar = render_bar("{% progress_bar None resume=True discover=True %}")
    assert "data-resume" in bar.attrs
    assert "data-discover" in bar.attrs
    assert "hidden" in bar.attrs


def test_dom_ids_are_unique_per_bar():
    root = parse(render("{% progress_bar a %}{% progress_bar a %}", a="same"))
    ids = [node.attrs["id"] for node in root.walk() if "id" in node.attrs]
    assert len(ids) == 4
    assert len(set(ids)) == 4


def test_no_inline_script_style_or_event_handler():
    html = render(
        "{% progress_bar sid status=status %}",
        sid="s",
        status={
            "status": "processing",
            "progress": 50,
            "files": [{"name": "a", "status": "pending"}],
        },
    )
    root = parse(html)
    for node in root.walk():
        assert node.tag != "script"
        assert "style" not in node.attrs
        assert not [name for name in node.attrs if name.startswith("on")], node.attrs


# -- initial state -----------------------------------------------------------------------


def status_of(**overrides):
    return {
        "session_id": "s",
        "status": "processing",
        "progress": 30,
        "message": "Transcribing b.mp3",
        "total_files": 10,
        "processed_files": 3,
        "files": [],
        **overrides,
    }


@pytest.mark.django_db
def test_given_status_is_rendered_without_a_query(django_assert_num_queries):
    files = [
        {"name": "done.txt", "status": "completed", "progress": 100, "message": "", "error": None},
        {
            "name": "<b>bad</b>.pdf",
            "status": "error",
            "progress": 5,
            "message": "",
            "error": "Encrypted",
        },
        {"name": "b.mp3", "status": "processing", "progress": 40, "message": "", "error": None},
    ]
    with django_assert_num_queries(0):
        html = render(
            "{% progress_bar sid status=status %}", sid="s", status=status_of(files=files)
        )
    bar = parse(html).find(data_progress_tracking=None)
    progressbar = bar.find(role="progressbar")
    assert progressbar.attrs["aria-valuenow"] == "30"
    assert progressbar.attrs["aria-valuetext"] == "3 of 10 files (30%)"
    assert bar.find(data_progress_tracking_percent=None).text == "30%"
    assert bar.find(data_progress_tracking_message=None).text == "Transcribing b.mp3"
    rows = bar.find(data_progress_tracking_files=None).children
    # The API's order: failures first, then files in progress, then the rest.
    assert [row.attrs["data-file-status"] for row in rows] == ["error", "processing", "completed"]
    assert rows[0].text == "<b>bad</b>.pdf Error Encrypted"
    assert "<b>" not in html
    assert rows[1].text == "b.mp3 Processing"
    assert rows[2].text == "done.txt Completed"


def test_files_beyond_the_limit_are_counted(settings):
    settings.PROGRESS_TRACKING = {**settings.PROGRESS_TRACKING, "FILES_LIMIT": 2}
    files = [{"name": f"f{i}", "status": "pending"} for i in range(5)]
    bar = render_bar("{% progress_bar sid status=status %}", sid="s", status=status_of(files=files))
    rows = bar.find(data_progress_tracking_files=None).children
    assert [row.text for row in rows] == ["f0 Pending", "f1 Pending", "and 3 more files"]


def test_file_list_can_be_left_out():
    files = [{"name": "a", "status": "pending"}]
    bar = render_bar(
        "{% progress_bar sid status=status show_files=False %}",
        sid="s",
        status=status_of(files=files),
    )
    assert bar.find_all(data_progress_tracking_files=None) == []


def test_empty_file_list_is_hidden():
    bar = render_bar("{% progress_bar sid status=status %}", sid="s", status=status_of())
    assert "hidden" in bar.find(data_progress_tracking_files=None).attrs


@pytest.mark.parametrize(
    ("progress", "shown"), [(-5, "0"), (12.6, "13"), (100, "100"), (250, "100"), ("junk", "0")]
)
def test_progress_is_clamped_and_rounded(progress, shown):
    bar = render_bar(
        "{% progress_bar sid status=status %}",
        sid="s",
        status=status_of(progress=progress, total_files=0),
    )
    assert bar.find(role="progressbar").attrs["aria-valuenow"] == shown
    assert bar.find(role="progressbar").attrs["aria-valuetext"] == f"{shown}%"


def test_one_file_reads_singular():
    bar = render_bar(
        "{% progress_bar sid status=status %}",
        sid="s",
        status=status_of(total_files=1, processed_files=0, progress=45),
    )
    assert bar.find(role="progressbar").attrs["aria-valuetext"] == "0 of 1 file (45%)"


@pytest.mark.django_db
def test_running_session_is_read_in_one_query(knowledge, django_assert_num_queries):
    session_id = services.start_session(knowledge, files=["a.pdf", "b.mp3"])
    services.update_file_progress(session_id, "a.pdf", progress=100, status="completed")
    with django_assert_num_queries(1):
        bar = render_bar(sid=session_id)
    assert bar.attrs["data-status"] == "processing"
    assert bar.find(role="progressbar").attrs["aria-valuetext"].startswith("1 of 2 files")
    assert [
        row.attrs["data-file-status"]
        for row in bar.find(data_progress_tracking_files=None).children
    ] == [
        "completed",
        "pending",
    ]


@pytest.mark.django_db
def test_finished_session_shows_its_final_state(knowledge):
    session_id = services.start_session(knowledge, files=["a.pdf"])
    services.update_file_progress(session_id, "a.pdf", progress=100, status="completed")
    services.mark_session_complete(session_id, message="All done")
    bar = render_bar(sid=session_id)
    assert bar.attrs["data-status"] == "completed"
    assert bar.attrs["data-state"] == "completed"
    progressbar = bar.find(role="progressbar")
    assert progressbar.attrs["aria-valuenow"] == "100"
    assert progressbar.attrs["aria-valuetext"] == "1 of 1 file (100%)"
    assert "aria-busy" not in progressbar.attrs
    assert bar.find(data_progress_tracking_message=None).text == "All done"


@pytest.mark.django_db
def test_failed_session_shows_the_error(knowledge):
    session_id = services.start_session(knowledge, files=["a.pdf"])
    services.mark_session_error(session_id, "Disk full")
    bar = render_bar(sid=session_id)
    assert bar.attrs["data-status"] == "error"
    assert bar.find(data_progress_tracking_message=None).text == "Processing failed: Disk full"


@pytest.mark.django_db
def test_malformed_id_needs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        bar = render_bar(sid="not-a-uuid")
    assert bar.attrs["data-status"] == "processing"


# -- base URL ------------------------------------------------------------------------------


def urlconf(*patterns) -> types.ModuleType:
    module = types.ModuleType(f"urls_{uuid.uuid4().hex}")
    module.urlpatterns = list(patterns)
    return module


def test_base_url_comes_from_the_mounted_api():
    assert api_base_url() == "/api/v1/progress"


def test_base_url_follows_where_the_host_mounts_the_api(settings):
    settings.ROOT_URLCONF = urlconf(path("tools/progress/", include("progress_tracking.urls")))
    assert api_base_url() == "/tools/progress"
    assert render_bar(sid="x").attrs["data-base-url"] == "/tools/progress"


def test_base_url_falls_back_when_the_api_is_not_mounted(settings):
    settings.ROOT_URLCONF = urlconf()
    assert api_base_url() == "/api/v1/progress"
    assert render_bar(sid="x").attrs["data-base-url"] == "/api/v1/progress"


def test_base_url_under_a_script_prefix(settings):
    from django.urls import set_script_prefix

    set_script_prefix("/sub/")
    try:
        assert api_base_url() == "/sub/api/v1/progress"
    finally:
        set_script_prefix("/")


# -- assets --------------------------------------------------------------------------------


def test_assets_tag_emits_the_stylesheet_and_the_module_script(settings):
    settings.STATIC_URL = "/assets/"
    root = parse(render("{% progress_tracking_assets %}"))
    link = root.find(rel="stylesheet")
    assert link.tag == "link"
    assert link.attrs["href"] == "/assets/progress_tracking/progress_bar.css"
    script = root.find(type="module")
    assert script.tag == "script"
    assert script.attrs["src"] == "/assets/progress_tracking/progress_bar.js"
    assert script.text == ""


def test_assets_tag_can_leave_the_stylesheet_out():
    root = parse(render("{% progress_tracking_assets css=False %}"))
    assert root.find_all(rel="stylesheet") == []
    assert root.find(type="module").attrs["src"].endswith("progress_tracking/progress_bar.js")


def test_static_files_exist():
    for name in ("polling.js", "polling.d.ts", "progress_bar.js", "progress_bar.css"):
        assert (STATIC_DIR / name).is_file(), name


# -- the Cancel button -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_running_bar_has_a_labelled_cancel_button(knowledge):
    sid = services.start_session(knowledge, files=["a.wav"])
    bar = render_bar('{% progress_bar sid label="Importing" %}', sid=sid)
    button = bar.find(data_progress_tracking_cancel=None)
    assert button.tag == "button"
    assert button.attrs["type"] == "button"
    assert button.text == "Cancel"
    assert "hidden" not in button.attrs
    assert bar.find(id=button.attrs["aria-describedby"]).text == "Importing"
    assert "data-cancel" not in bar.attrs


@pytest.mark.django_db
def test_a_finished_bar_hides_its_cancel_button(knowledge):
    sid = services.start_session(knowledge, files=["a.wav"])
    services.request_cancel(sid)
    bar = render_bar(sid=sid)
    assert "hidden" in bar.find(data_progress_tracking_cancel=None).attrs
    assert bar.attrs["data-state"] == "cancelled"
    assert bar.find(data_progress_tracking_message=None).text == "Processing cancelled."
    assert "aria-busy" not in bar.find(role="progressbar").attrs
    (row,) = bar.find_all(data_file_status="cancelled")
    assert row.text == "a.wav Cancelled"


@pytest.mark.django_db
def test_a_host_turns_the_cancel_button_off(unknown_id):
    bar = render_bar("{% progress_bar sid cancel=False %}", sid=unknown_id)
    assert bar.find_all(data_progress_tracking_cancel=None) == []
    assert bar.attrs["data-cancel"] == "false"
