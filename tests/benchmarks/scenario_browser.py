"""Scenario 5: status requests reaching the server with 1, 3 and 10 tabs open on one session.

A real Chromium (Playwright) opens the KnowledgeBase page of one knowledge base in N pages of
one browser context (the tabs of one browser profile). A background worker process keeps the
session processing and changing every 0.4 s, so every poll has something new to fetch.
Requests are counted server-side from gunicorn's access log over a fixed window after the tabs
settled. For contrast, the full run repeats 10 tabs with tab coordination switched off (no Web
Locks, no BroadcastChannel: every tab polls for itself, as the module does in browsers
without those APIs).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .harness import CHROMIUM, PYTHON, ROOT, Server, log, verdict

if TYPE_CHECKING:
    from .run import Context

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
# Without these APIs polling.js lets every tab poll on its own.
UNCOORDINATED_SCRIPT = """
Object.defineProperty(Navigator.prototype, "locks", {
  get() { return undefined; }, configurable: true,
});
window.BroadcastChannel = undefined;
"""
# One poll a second (X-Poll-Interval 1), whatever the number of tabs; and polling at all.
TARGET_PER_S = 1.5
LOW_PER_S = 0.5


def count_requests(log_path: Path, start: int, session_id: str) -> tuple[Counter, int]:
    with open(log_path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    counts: Counter = Counter()
    status_path = f"/api/v1/progress/{session_id}/status"
    for line in data.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        path = parts[1]
        if path == status_path:
            counts["status"] += 1
        elif path == "/api/v1/progress/":
            counts["list"] += 1
        elif path.startswith("/static/"):
            counts["static"] += 1
        else:
            counts["other"] += 1
    return counts, start + len(data)


def cookies_for(base_url: str, cookie_header: str) -> list[dict[str, str]]:
    pairs = (part.split("=", 1) for part in cookie_header.split("; "))
    return [{"name": k, "value": v, "url": base_url} for k, v in pairs]


def measure_tabs(
    browser: Any,
    server: Server,
    ctx: Context,
    *,
    tabs: int,
    coordinated: bool,
    page_url: str,
    session_id: str,
    settle: float,
    window: float,
) -> dict[str, Any]:
    context = browser.new_context(base_url=server.base_url)
    try:
        context.add_cookies(cookies_for(server.base_url, ctx.cookie))
        if not coordinated:
            context.add_init_script(UNCOORDINATED_SCRIPT)
        pages = []
        for _ in range(tabs):
            page = context.new_page()
            page.goto(page_url, wait_until="commit")
            pages.append(page)
        for page in pages:
            page.wait_for_selector("[role=progressbar]", timeout=30_000)
        time.sleep(settle)
        visible = sum(p.evaluate("document.visibilityState") == "visible" for p in pages)
        offset = server.access_log.stat().st_size
        time.sleep(window)
        counts, _ = count_requests(server.access_log, offset, session_id)
    finally:
        context.close()
    return {
        "tabs": tabs,
        "coordinated": coordinated,
        "visible_tabs": visible,
        "window_s": window,
        "status_requests": counts["status"],
        "status_per_s": round(counts["status"] / window, 2),
        "list_per_s": round(counts["list"] / window, 2),
        "api_per_s": round((counts["status"] + counts["list"]) / window, 2),
        "other_requests": counts["other"] + counts["static"],
    }


def run_browser(ctx: Context) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        return {"skipped": f"Chromium not found at {CHROMIUM}"}
    from playwright.sync_api import sync_playwright

    from progress_tracking.models import Knowledge

    from .scenario_poll import create_polled_session

    session_id = create_polled_session(ctx.user, name="Open in many tabs")
    pk = Knowledge.objects.values_list("pk", flat=True).get(progress_session_id=session_id)
    settle, window = (2.5, 4.0) if ctx.quick else (5.0, 15.0)
    plan = [(1, True), (3, True), (10, True)] + ([] if ctx.quick else [(10, False)])
    runs = []
    with tempfile.TemporaryDirectory(prefix="progress-bench-") as tmp:
        access_log = Path(tmp) / "access.log"
        access_log.touch()
        with Server(ctx.env, access_log=access_log, log_dir=ctx.log_dir) as server:
            keepalive = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "tests.benchmarks.writer",
                    "keepalive",
                    session_id,
                    "--interval",
                    "0.4",
                    "--duration",
                    "600",
                ],
                cwd=ROOT,
                env=ctx.env,
            )
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM, args=CHROMIUM_ARGS
                    )
                    try:
                        for tabs, coordinated in plan:
                            log(
                                f"browser: {tabs} tab(s), coordination "
                                f"{'on' if coordinated else 'off'}, {window:g} s window"
                            )
                            runs.append(
                                measure_tabs(
                                    browser,
                                    server,
                                    ctx,
                                    tabs=tabs,
                                    coordinated=coordinated,
                                    page_url=f"/knowledge/{pk}/",
                                    session_id=session_id,
                                    settle=settle,
                                    window=window,
                                )
                            )
                            time.sleep(0.5)
                    finally:
                        browser.close()
            finally:
                keepalive.terminate()
                keepalive.wait(timeout=30)
    coordinated_runs = [r for r in runs if r["coordinated"]]
    worst = max(r["status_per_s"] for r in coordinated_runs)
    least = min(r["status_per_s"] for r in coordinated_runs)
    one_tab = coordinated_runs[0]["status_per_s"]
    ten = next(r for r in coordinated_runs if r["tabs"] == 10)["status_per_s"]
    return {
        "method": (
            f"KnowledgeBase page open in N tabs of one browser context; {settle:g} s to settle, "
            f"then status requests counted in gunicorn's access log over {window:g} s; "
            "a background worker changes the session every 0.4 s"
        ),
        "runs": runs,
        "ratios": {"ten_tabs_vs_one": round(ten / one_tab, 3) if one_tab else None},
        "targets": {
            "status_per_s_any_tabs": {
                "target": f"{LOW_PER_S}-{TARGET_PER_S} req/s with 1, 3 and 10 tabs",
                "value": worst,
                "verdict": verdict(worst <= TARGET_PER_S and least >= LOW_PER_S),
            },
        },
    }
