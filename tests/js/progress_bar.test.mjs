// progress_bar.js against a minimal fake DOM and the fake progress server.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { buildBar, FakeDocument } from "./fake-dom.mjs";
import { createBrowser, START, STATIC_DIR } from "./helpers.mjs";

// progress_bar.js imports "./polling.js": configure that very module instance.
const polling = await import(new URL("polling.js", STATIC_DIR).href);
const bars = await import(new URL("progress_bar.js", STATIC_DIR).href);

let browser;
let document;
let counter = 0;
let sessionId;

function attach(bar, options = {}) {
  return bars.attachProgressBar(bar, {
    now: browser.clock.now,
    setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
    clearTimeout: (id) => timers.clearTimeout(id),
    ...options,
  });
}

let timers;

beforeEach(() => {
  browser = createBrowser();
  timers = browser.clock.scope();
  document = new FakeDocument();
  counter += 1;
  sessionId = `bar-${counter}`;
  polling.configureEnvironment({
    fetch: browser.server.fetchFor("page"),
    storage: browser.storage,
    BroadcastChannel: null,
    locks: null,
    document: null,
    window: null,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    now: browser.clock.now,
    random: () => 0.5,
  });
});

afterEach(() => {
  polling.stopProgressTracking(sessionId);
  delete globalThis.gettext;
  delete globalThis.ngettext;
  delete globalThis.interpolate;
});

function part(bar, name) {
  return bar.querySelector(`[data-progress-tracking-${name}]`);
}

function eventsOf(bar, type) {
  return bar.events.filter((event) => event.type === type);
}

describe("rendering", () => {
  test("updates value, text, fill, message and files from each status", async () => {
    browser.server.update(sessionId, {
      progress: 30.4,
      total_files: 10,
      processed_files: 3,
      message: "Transcribing b.mp3",
      files: [
        { name: "a.pdf", status: "error", progress: 10, message: "", error: "Encrypted PDF" },
        { name: "b.mp3", status: "processing", progress: 50, message: "", error: null },
        { name: "<c>.txt", status: "completed", progress: 100, message: "", error: null },
      ],
      files_total: 12,
    });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    const poll = browser.server.polls()[0];
    assert.equal(poll.url, `/api/v1/progress/${sessionId}/status`);

    const progressbar = part(bar, "bar");
    assert.equal(progressbar.getAttribute("aria-valuenow"), "30");
    assert.equal(progressbar.getAttribute("aria-valuetext"), "3 of 10 files (30%)");
    assert.equal(progressbar.getAttribute("aria-busy"), "true");
    assert.equal(bar.style.getPropertyValue("--progress-tracking-value"), "30%");
    assert.equal(part(bar, "percent").textContent, "30%");
    assert.equal(part(bar, "message").textContent, "Transcribing b.mp3");
    assert.equal(bar.getAttribute("data-state"), "processing");

    const files = part(bar, "files");
    assert.equal(files.hidden, false);
    const rows = files.children;
    assert.equal(rows.length, 4);
    assert.equal(rows[0].getAttribute("data-file-status"), "error");
    assert.equal(rows[0].textContent, "a.pdf Error Encrypted PDF");
    assert.equal(rows[1].textContent, "b.mp3 Processing");
    assert.equal(rows[2].children[0].textContent, "<c>.txt", "names are text, never HTML");
    assert.equal(rows[3].textContent, "and 9 more files");
  });

  test("a single-file session reads as a percentage", async () => {
    browser.server.update(sessionId, { progress: 45, total_files: 0 });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    assert.equal(part(bar, "bar").getAttribute("aria-valuetext"), "45%");
  });

  test("uses Django's JavaScript catalog when it is loaded", async () => {
    globalThis.gettext = (msgid) => `«${msgid}»`;
    globalThis.ngettext = (singular, plural, count) => `«${count === 1 ? singular : plural}»`;
    globalThis.interpolate = (format, values, named) => {
      assert.equal(named, true);
      return format.replace(/%\((\w+)\)s/g, (_, name) => `[${values[name]}]`);
    };
    browser.server.update(sessionId, { progress: 50, total_files: 2, processed_files: 1, message: "" });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    assert.equal(part(bar, "bar").getAttribute("aria-valuetext"), "«[1] of [2] files ([50%])»");
    assert.equal(part(bar, "message").textContent, "«Processing…»");
  });

  test("starts from the server-rendered value", async () => {
    browser.server.respond = () => new Promise(() => {});
    const bar = buildBar(document, { sessionId, progress: 64 });
    attach(bar);
    assert.equal(bar.style.getPropertyValue("--progress-tracking-value"), "64%");
  });
});

describe("events and announcements", () => {
  test("dispatches progress and complete events that bubble", async () => {
    browser.server.update(sessionId, { progress: 10 });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(1000);
    browser.server.update(sessionId, { status: "completed", progress: 100, message: "" });
    await browser.clock.advance(1000);
    const progress = eventsOf(bar, "progress-tracking:progress");
    assert.deepEqual(
      progress.map((event) => event.detail.status.progress),
      [10, 100],
    );
    assert.ok(progress.every((event) => event instanceof CustomEvent && event.bubbles));
    const [complete] = eventsOf(bar, "progress-tracking:complete");
    assert.equal(complete.detail.sessionId, sessionId);
    assert.equal(complete.detail.status.status, "completed");
    assert.equal(bar.getAttribute("data-state"), "completed");
    assert.equal(part(bar, "bar").hasAttribute("aria-busy"), false);
    assert.equal(part(bar, "live").textContent, "Processing complete.");
  });

  for (const [name, setUp, kind, text] of [
    ["404", (server) => server.sessions.clear(), "not_found", "Progress stopped being reported: the work was interrupted or cleared."],
    [
      "a failure",
      (server, id) => server.update(id, { status: "error", error: "Corrupt file" }),
      "failed",
      "Processing failed: Corrupt file",
    ],
    [
      "403",
      (server) => {
        server.respond = () => new Response("{}", { status: 403 });
      },
      "forbidden",
      "You are not allowed to see this progress.",
    ],
  ]) {
    test(`shows ${name} and dispatches an error event`, async () => {
      browser.server.update(sessionId, {});
      const bar = buildBar(document, { sessionId });
      attach(bar);
      await browser.clock.advance(0);
      setUp(browser.server, sessionId);
      await browser.clock.advance(1000);
      const [event] = eventsOf(bar, "progress-tracking:error");
      assert.equal(event.detail.kind, kind);
      assert.equal(event.detail.error.kind, kind);
      assert.equal(bar.getAttribute("data-state"), "error");
      assert.equal(bar.getAttribute("data-error-kind"), kind);
      assert.equal(part(bar, "message").textContent, text);
      assert.equal(part(bar, "live").textContent, text, "errors are announced at once");
    });
  }

  test("announces progress politely, at most every 5 s", async () => {
    browser.server.update(sessionId, { progress: 0, total_files: 0 });
    const bar = buildBar(document, { sessionId });
    const live = part(bar, "live");
    const announced = [];
    const original = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(live), "textContent");
    Object.defineProperty(live, "textContent", {
      get: () => original.get.call(live),
      set: (value) => {
        announced.push({ at: browser.clock.now() - START, value });
        original.set.call(live, value);
      },
    });
    attach(bar);
    for (let second = 1; second <= 12; second += 1) {
      await browser.clock.advance(1000);
      browser.server.update(sessionId, { progress: second * 5 });
    }
    await browser.clock.advance(1000);
    // Each second brings a change (the poll at n s sees the update made at n-1 s), but
    // only the latest value is read, once per 5 s.
    assert.deepEqual(announced, [
      { at: 5000, value: "15%" },
      { at: 10_000, value: "40%" },
    ]);
    browser.server.update(sessionId, { status: "completed", progress: 100, message: "All done" });
    await browser.clock.advance(500);
    await browser.clock.advance(500);
    assert.deepEqual(announced.at(-1), { at: 14_000, value: "All done" });
    await browser.clock.advance(10_000);
    assert.equal(announced.length, 3, "no late announcement after the final one");
  });
});

describe("attaching", () => {
  test("a bar of a finished session shows its final state without polling", async () => {
    const bar = buildBar(document, { sessionId, status: "completed", progress: 100 });
    attach(bar);
    await browser.clock.advance(5000);
    assert.equal(browser.server.calls.length, 0);
    assert.equal(bar.style.getPropertyValue("--progress-tracking-value"), "100%");
  });

  test("an idle bar (no session id) does nothing and stays hidden", async () => {
    const bar = buildBar(document, { sessionId: "", status: "" });
    attach(bar);
    await browser.clock.advance(5000);
    assert.equal(browser.server.calls.length, 0);
    assert.equal(bar.hidden, true);
  });

  test("attaching twice is harmless; two bars of one session share one poller", async () => {
    browser.server.update(sessionId, { progress: 70 });
    const first = buildBar(document, { sessionId });
    const second = buildBar(document, { sessionId });
    assert.equal(attach(first), attach(first));
    attach(second);
    await browser.clock.advance(2000);
    assert.equal(browser.server.polls().length, 3, "one request per second");
    assert.equal(part(first, "percent").textContent, "70%");
    assert.equal(part(second, "percent").textContent, "70%");
  });

  test("attachAll finds every bar and reads data-base-url and data-interval", async () => {
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId, "data-base-url": "/custom/", "data-interval": "2000" });
    buildBar(document, { sessionId: "", status: "" });
    const attached = bars.attachAll(document, {
      now: browser.clock.now,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
    });
    assert.equal(attached.length, 1);
    assert.equal(attached[0].element, bar);
    await browser.clock.advance(4000);
    const polls = browser.server.polls();
    assert.equal(polls[0].url, `/custom/${sessionId}/status`);
    assert.deepEqual(
      polls.map((call) => call.at - START),
      [0, 2000, 4000],
    );
  });

  test("a detached bar is no longer updated", async () => {
    browser.server.update(sessionId, { progress: 10 });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    bars.detachProgressBar(bar);
    browser.server.update(sessionId, { progress: 90 });
    await browser.clock.advance(2000);
    assert.equal(part(bar, "percent").textContent, "10%");
  });

  test("an idle bar with data-resume adopts the sessions this browser remembers", async () => {
    browser.server.update(sessionId, { progress: 25 });
    const other = `${sessionId}-b`;
    browser.server.update(other, { progress: 75 });
    browser.storage.setItem(
      "progress-tracking:sessions",
      JSON.stringify({
        [sessionId]: { baseUrl: "/api/v1/progress", since: 1 },
        [other]: { baseUrl: "/api/v1/progress", since: 2 },
      }),
    );
    const placeholder = buildBar(document, { sessionId: "", status: "", "data-resume": "" });
    bars.attachAll(document, { now: browser.clock.now, setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });
    await browser.clock.advance(0);
    const shown = document.querySelectorAll("[data-progress-tracking]");
    assert.equal(shown.length, 2);
    assert.equal(shown[0], placeholder);
    assert.deepEqual(
      shown.map((bar) => bar.getAttribute("data-session-id")),
      [sessionId, other],
    );
    assert.deepEqual(
      shown.map((bar) => part(bar, "percent").textContent),
      ["25%", "75%"],
    );
    assert.equal(shown[1].hidden, false);
    const labelId = shown[1].querySelector("[data-progress-tracking-bar]").getAttribute("aria-labelledby");
    assert.notEqual(labelId, "pt-label", "the clone gets its own ids");
    assert.equal(shown[1].querySelector(`[id="${labelId}"]`).textContent, "Progress");
    polling.stopProgressTracking(other);
  });
});

describe("the Cancel button", () => {
  test("is shown while the work runs, asks first, then cancels and shows the cancelled bar", async () => {
    browser.server.update(sessionId, { progress: 40, total_files: 2, processed_files: 0 });
    const bar = buildBar(document, { sessionId, progress: 40 });
    const questions = [];
    let answer = false;
    attach(bar, {
      confirm: (text) => {
        questions.push(text);
        return answer;
      },
    });
    await browser.clock.advance(0);
    const button = part(bar, "cancel");
    assert.equal(button.hidden, false);
    assert.equal(button.getAttribute("type"), "button");
    assert.equal(button.getAttribute("aria-describedby"), "pt-label", "names what it cancels");

    button.click(); // the user says no
    await browser.clock.advance(0);
    assert.deepEqual(questions, ["Cancel this work? Files not finished yet will not be processed."]);
    assert.equal(browser.server.calls.filter((call) => call.method === "POST").length, 0);

    answer = true;
    button.click();
    assert.equal(button.disabled, true, "no second request while the first one runs");
    assert.equal(button.textContent, "Cancelling…");
    await browser.clock.advance(0);
    const posts = browser.server.calls.filter((call) => call.method === "POST");
    assert.equal(posts.length, 1);
    assert.equal(posts[0].url, `/api/v1/progress/${sessionId}/cancel`);
    assert.equal(bar.getAttribute("data-state"), "cancelled");
    assert.equal(part(bar, "message").textContent, "Processing cancelled.");
    assert.equal(part(bar, "bar").getAttribute("aria-busy"), null);
    assert.equal(part(bar, "bar").getAttribute("aria-valuenow"), "40", "stops where it was");
    assert.equal(button.hidden, true);
    assert.equal(part(bar, "live").textContent, "Processing cancelled.");
    const [event] = eventsOf(bar, "progress-tracking:error");
    assert.equal(event.detail.kind, "cancelled");
    assert.equal(event.detail.status.status, "cancelled");
  });

  test("a failed request gives the button back and says why", async () => {
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId });
    attach(bar, { confirm: () => true });
    await browser.clock.advance(0);
    browser.server.respond = (call) =>
      call.method === "POST"
        ? new Response(JSON.stringify({ detail: "CSRF Failed: CSRF token missing." }), { status: 403 })
        : undefined;
    const button = part(bar, "cancel");
    button.click();
    await browser.clock.advance(0);
    assert.equal(button.disabled, false);
    assert.equal(button.textContent, "Cancel");
    assert.equal(part(bar, "live").textContent, "Could not cancel: CSRF Failed: CSRF token missing.");
    assert.equal(bar.getAttribute("data-state"), "processing");
  });

  test("is translated through Django's JavaScript catalog", async () => {
    globalThis.gettext = (msgid) => `«${msgid}»`;
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId });
    const questions = [];
    attach(bar, { confirm: (text) => questions.push(text) > 0 });
    await browser.clock.advance(0);
    part(bar, "cancel").click();
    assert.equal(part(bar, "cancel").textContent, "«Cancelling…»");
    await browser.clock.advance(0);
    assert.deepEqual(questions, ["«Cancel this work? Files not finished yet will not be processed.»"]);
    assert.equal(part(bar, "message").textContent, "«Processing cancelled.»");
  });

  test("data-cancel-confirm=false cancels without asking", async () => {
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId, "data-cancel-confirm": "false" });
    attach(bar, { confirm: () => assert.fail("asked") });
    await browser.clock.advance(0);
    part(bar, "cancel").click();
    await browser.clock.advance(0);
    assert.equal(bar.getAttribute("data-state"), "cancelled");
  });

  test("a host turns it off with data-cancel=false", async () => {
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId, "data-cancel": "false" });
    attach(bar, { confirm: () => true });
    await browser.clock.advance(0);
    const button = part(bar, "cancel");
    assert.equal(button.hidden, true);
    button.hidden = false; // even if a stylesheet or script shows it again
    button.click();
    await browser.clock.advance(0);
    assert.equal(browser.server.calls.filter((call) => call.method === "POST").length, 0);
  });

  test("hides when the work ends by itself, and on a bar rendered finished", async () => {
    browser.server.update(sessionId, {});
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    browser.server.update(sessionId, { status: "completed", progress: 100 });
    await browser.clock.advance(1000);
    assert.equal(part(bar, "cancel").hidden, true);

    const done = buildBar(document, { sessionId: "done", status: "cancelled" });
    attach(done);
    assert.equal(part(done, "cancel").hidden, true);
    assert.equal(browser.server.polls({ sessionId: "done" }).length, 0);
  });

  test("a session cancelled elsewhere ends the bar as cancelled", async () => {
    browser.server.update(sessionId, { progress: 20 });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    browser.server.update(sessionId, { status: "cancelled", message: "Processing cancelled." });
    await browser.clock.advance(1000);
    assert.equal(bar.getAttribute("data-state"), "cancelled");
    assert.equal(part(bar, "cancel").hidden, true);
  });
});

describe("honest bars: overall progress never moves back", () => {
  async function barAt(progress, extra = {}) {
    browser.server.update(sessionId, { progress, ...extra });
    const bar = buildBar(document, { sessionId });
    attach(bar);
    await browser.clock.advance(0);
    return bar;
  }

  function shown(bar) {
    return [
      part(bar, "bar").getAttribute("aria-valuenow"),
      part(bar, "percent").textContent,
      bar.style.getPropertyValue("--progress-tracking-value"),
    ];
  }

  test("files joining a running session: the bar holds until the work catches up", async () => {
    const bar = await barAt(50, { total_files: 2, processed_files: 1 });
    // An older server (or progress in the seed's format) recomputes 1 of 4 files: 25 %.
    browser.server.update(sessionId, { progress: 25, total_files: 4 });
    await browser.clock.advance(1000);
    assert.deepEqual(shown(bar), ["50", "50%", "50%"]);
    assert.equal(part(bar, "bar").getAttribute("aria-valuetext"), "1 of 4 files (50%)");
    browser.server.update(sessionId, { progress: 62.5, processed_files: 2 });
    await browser.clock.advance(1000);
    assert.deepEqual(shown(bar), ["63", "63%", "63%"]);
  });

  test("a file retried from the start: the bar holds, the file's own row restarts", async () => {
    const bar = await barAt(40, {
      files: [{ name: "a.wav", status: "processing", progress: 80, message: "", error: null }],
    });
    browser.server.update(sessionId, {
      progress: 5,
      files: [{ name: "a.wav", status: "processing", progress: 10, message: "", error: null }],
    });
    await browser.clock.advance(1000);
    assert.deepEqual(shown(bar), ["40", "40%", "40%"]);
    assert.equal(part(bar, "files").children[0].getAttribute("data-file-status"), "processing");
  });

  test("a file failing part-way: the bar does not drop", async () => {
    const bar = await barAt(30);
    browser.server.update(sessionId, { progress: 20, failed_files: 1 });
    await browser.clock.advance(1000);
    assert.deepEqual(shown(bar), ["30", "30%", "30%"]);
  });

  test("the server-rendered value counts too", async () => {
    browser.server.update(sessionId, { progress: 10 });
    const bar = buildBar(document, { sessionId, progress: 35 });
    attach(bar);
    await browser.clock.advance(0);
    assert.deepEqual(shown(bar), ["35", "35%", "35%"]);
  });
});

const HEADER = "X-Progress-Capability";

describe("progress bar", () => {
  test("passes data-capability to its poller", async () => {
    const polling = await import(new URL("polling.js", STATIC_DIR).href);
    const bars = await import(new URL("progress_bar.js", STATIC_DIR).href);
    const browser = createBrowser();
    const timers = browser.clock.scope();
    polling.configureEnvironment({
      fetch: browser.server.fetchFor("page"),
      storage: browser.storage,
      BroadcastChannel: null,
      locks: null,
      document: null,
      window: null,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
      now: browser.clock.now,
      random: () => 0.5,
    });
    browser.server.update("cap-bar", {});
    const bar = buildBar(new FakeDocument(), {
      sessionId: "cap-bar",
      "data-capability": "bar-cap",
    });
    bars.attachProgressBar(bar, {
      now: browser.clock.now,
      setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
      clearTimeout: (id) => timers.clearTimeout(id),
    });
    await browser.clock.advance(0);
    const [poll] = browser.server.polls({ sessionId: "cap-bar" });
    assert.equal(poll.headers.get(HEADER), "bar-cap");
    polling.stopProgressTracking("cap-bar");
  });
});
