"""polling.js and its modules under ``ManifestStaticFilesStorage`` (hashed file names).

docs/frontend.md tells hosts to turn on ``support_js_module_import_aggregation`` so that the
relative imports between the modules are rewritten to hashed names. ``collectstatic`` runs
here for the whole demo site (the admin, DRF, and the knowledge script that imports
progress_bar.js), then the collected files are checked and loaded in Chromium. Without the
option the imports keep their plain names, which the docs say still works: that is loaded too.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command
from django.test import override_settings

APP_MODULES = "progress_tracking/"
HOST_MODULE = "knowledge/knowledge_base.js"
# A static import or re-export of a relative URL, as the modules write them.
RELATIVE_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.\.?/[^"]+)"\s*;""", re.M)


def relative_imports(source: str) -> list[str]:
    return RELATIVE_IMPORT.findall(source)


def resolve(name: str, specifier: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(name), specifier))


def importers_first(paths: dict) -> dict:
    """``paths`` with every module before the modules it imports.

    Each of the storage's passes settles one more level of imports when a file comes before
    the files it imports; in the opposite order it settles them all at once. The file system
    decides the order, so the test takes the worst one.
    """
    imports: dict[str, list[str]] = {}
    for name, (storage, path) in paths.items():
        if name.endswith(".js"):
            with storage.open(path) as source:
                text = source.read().decode("utf-8", errors="replace")
            imports[name] = [resolve(name, spec) for spec in relative_imports(text)]

    @functools.cache
    def height(name: str) -> int:
        return 1 + max((height(dep) for dep in imports.get(name, ()) if dep in imports), default=-1)

    return dict(sorted(paths.items(), key=lambda item: -height(item[0])))


class HashedModules(ManifestStaticFilesStorage):
    """The storage docs/frontend.md recommends, given its files in the worst order."""

    support_js_module_import_aggregation = True

    def post_process(self, paths, dry_run=False, **options):
        return super().post_process(importers_first(paths), dry_run, **options)


def collect(backend: type, root: Path) -> dict[str, str]:
    """Run collectstatic into ``root``; return the manifest (original name -> hashed name)."""
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": f"{backend.__module__}.{backend.__qualname__}"},
    }
    with override_settings(STATIC_ROOT=str(root), STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    (root / "index.html").write_text("<!doctype html><title>hashed static</title>")
    return json.loads((root / "staticfiles.json").read_text())["paths"]


@pytest.fixture(scope="module")
def hashed_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hashed")
    return root, collect(HashedModules, root)


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("plain")
    return root, collect(ManifestStaticFilesStorage, root)


def app_modules(manifest: dict[str, str]) -> set[str]:
    return {name for name in manifest if name.startswith(APP_MODULES) and name.endswith(".js")}


def test_every_import_names_the_hashed_module(hashed_site):
    root, manifest = hashed_site
    original_of = {hashed: name for name, hashed in manifest.items()}
    modules = app_modules(manifest)
    assert {"progress_tracking/polling.js", "progress_tracking/polling/poller.js"} <= modules
    reached: set[str] = set()
    todo = ["progress_tracking/progress_bar.js", HOST_MODULE]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        hashed = manifest[name]
        specifiers = relative_imports((root / hashed).read_text())
        source = (root / name).read_text()
        assert len(specifiers) == len(relative_imports(source)), f"an import of {name} was lost"
        for specifier in specifiers:
            target = resolve(hashed, specifier)
            assert target in original_of, f"{hashed} imports {specifier}, not a hashed file"
            assert (root / target).is_file()
            todo.append(original_of[target])
    # Every module of the app is in the graph, reached through hashed names only.
    assert modules <= reached


@contextmanager
def serve(root: Path) -> Iterator[str]:
    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# Imports the bar and polling.js from their hashed URLs (as {% static %} gives them) and
# tracks a session through a fake fetch until it completes.
LOAD = """async ({ bar, polling }) => {
  const barModule = await import(bar);
  const pollingModule = await import(polling);
  const body = { session_id: "s1", status: "completed", progress: 100, version: 1 };
  const poller = pollingModule.startProgressTracking("s1", undefined, undefined, {
    fetch: async () => new Response(JSON.stringify(body), { status: 200 }),
  });
  const status = await poller.start();
  return {
    exports: Object.keys(pollingModule).sort(),
    attach: typeof barModule.attachProgressBar,
    status: status?.status ?? null,
  };
}"""

EXPORTS = sorted(
    [
        "CAPABILITY_HEADER",
        "ProgressPoller",
        "ProgressTrackingError",
        "cancelProgress",
        "clearProgress",
        "configureEnvironment",
        "discoverProgressTracking",
        "getProgressPoller",
        "getRememberedSessions",
        "listProgressSessions",
        "resumeProgressTracking",
        "startProgressTracking",
        "stopProgressTracking",
    ]
)


def load(browser, root: Path, manifest: dict[str, str]) -> tuple[dict, list[tuple[str, int]]]:
    """Load the collected modules in a page; return its result and every (path, status)."""
    answered: list[tuple[str, int]] = []
    with serve(root) as base_url:
        context = browser.new_context(base_url=base_url)
        try:
            page = context.new_page()
            page.on("response", lambda r: answered.append((urlsplit(r.url).path, r.status)))
            page.goto("/index.html")
            urls = {
                "bar": "/" + manifest["progress_tracking/progress_bar.js"],
                "polling": "/" + manifest["progress_tracking/polling.js"],
            }
            result = page.evaluate(LOAD, urls)
        finally:
            context.close()
    return result, answered


def test_the_hashed_module_graph_loads_once_in_a_browser(browser, hashed_site):
    root, manifest = hashed_site
    result, answered = load(browser, root, manifest)
    assert result == {"exports": EXPORTS, "attach": "function", "status": "completed"}
    modules = [path.lstrip("/") for path, _ in answered if path.endswith(".js")]
    assert all(status == 200 for _, status in answered), answered
    original_of = {hashed: name for name, hashed in manifest.items()}
    assert all(path in original_of for path in modules), f"unhashed module requested: {modules}"
    # One URL per module: polling.js imported by the page and by the bar is one instance.
    originals = [original_of[path] for path in modules]
    assert sorted(originals) == sorted(set(originals))
    assert set(originals) == app_modules(manifest)


def test_without_import_rewriting_the_plain_names_load(browser, plain_site):
    root, manifest = plain_site
    result, answered = load(browser, root, manifest)
    assert result == {"exports": EXPORTS, "attach": "function", "status": "completed"}
    assert all(status == 200 for _, status in answered), answered
    modules = {path.lstrip("/") for path, _ in answered if path.endswith(".js")}
    # The bar's hashed file imports the collected copies under their plain names.
    assert {"progress_tracking/polling.js", "progress_tracking/polling/poller.js"} <= modules
