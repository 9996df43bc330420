// polling/poller.js: one poller's rhythm, conditional requests, stall timer, failures,
// callbacks and the ways tracking ends (one tab; several tabs are in tabs.test.mjs).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, gaps, page, recorder, soloTab, START, statusBody } from "./helpers.mjs";

describe("polling rhythm", () => {
  test("polls at once, then every second", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 10 });
    polling.startProgressTracking("s1");
    await clock.advance(3500);
    const polls = server.polls();
    assert.equal(polls.length, 4);
    assert.equal(polls[0].at, START);
    assert.deepEqual(gaps(polls), [1000, 1000, 1000]);
  });

  test("obeys X-Poll-Interval", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    server.pollInterval = "2.5";
    polling.startProgressTracking("s1");
    await clock.advance(10_000);
    assert.deepEqual(gaps(server.polls()), [2500, 2500, 2500, 2500]);
  });

  test("ignores a malformed X-Poll-Interval", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    server.pollInterval = "soon";
    polling.startProgressTracking("s1", undefined, undefined, { interval: 2000 });
    await clock.advance(4000);
    assert.deepEqual(gaps(server.polls()), [2000, 2000]);
  });

  test("start() resolves after the first response, with the status", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 42 });
    let release;
    server.respond = () =>
      new Promise((resolve) => {
        release = resolve;
      });
    const poller = new polling.ProgressPoller("s1", undefined, undefined);
    let resolved = null;
    poller.start().then((status) => {
      resolved = status;
    });
    await clock.advance(0);
    assert.equal(resolved, null);
    assert.equal(typeof release, "function");
    server.respond = null;
    release(server.answer(server.calls[0]));
    await clock.advance(0);
    assert.equal(resolved.progress, 42);
    poller.stop();
  });

  test("start() twice does not start a second loop", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const poller = new polling.ProgressPoller("s1");
    const first = poller.start();
    assert.equal(poller.start(), first);
    await clock.advance(2000);
    assert.equal(server.polls().length, 3);
    poller.stop();
  });
});

describe("changes and conditional requests", () => {
  test("sends the ETag back and treats 304 as unchanged", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 5 });
    const events = recorder();
    polling.startProgressTracking("s1", undefined, undefined, { onProgress: events.onProgress });
    await clock.advance(2000);
    const polls = server.polls();
    assert.equal(polls[0].headers.get("If-None-Match"), null);
    assert.equal(polls[1].headers.get("If-None-Match"), '"s1-1"');
    assert.equal(polls[2].headers.get("If-None-Match"), '"s1-1"');
    assert.equal(events.of("progress").length, 1, "304s are not changes");
    assert.equal(polling.getProgressPoller("s1").status.progress, 5);
    server.update("s1", { progress: 50 });
    await clock.advance(1000);
    assert.deepEqual(
      events.of("progress").map((event) => event.status.progress),
      [5, 50],
    );
  });

  test("calls onProgress only when the body changes", async () => {
    const { polling, clock, server } = await soloTab();
    const body = statusBody({ progress: 7 });
    // A server without ETag: the same body every time.
    server.respond = () => new Response(JSON.stringify(body), { status: 200 });
    const events = recorder();
    polling.startProgressTracking("s1", undefined, undefined, { onProgress: events.onProgress });
    await clock.advance(5000);
    assert.equal(server.polls().length, 6);
    assert.equal(events.of("progress").length, 1);
  });

  test("completes: onProgress then onComplete with the final status, then silence", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 50 });
    const events = recorder();
    const poller = polling.startProgressTracking("s1", events.onComplete, events.onError, {
      onProgress: events.onProgress,
    });
    await clock.advance(1000);
    server.update("s1", { progress: 100, status: "completed", processed_files: 1 });
    await clock.advance(1000);
    assert.deepEqual(
      events.events.map((event) => event.type),
      ["progress", "progress", "complete"],
    );
    assert.equal(events.of("complete")[0].status.status, "completed");
    assert.equal(poller.running, false);
    const count = server.calls.length;
    await clock.advance(10_000);
    assert.equal(server.calls.length, count);
    assert.ok(server.calls.every((call) => call.method === "GET"), "never DELETE");
    assert.equal(polling.getProgressPoller("s1"), null);
  });

  test("a throwing callback does not stop the others", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { status: "completed", progress: 100 });
    const reported = [];
    const originalError = console.error;
    console.error = (error) => reported.push(error);
    try {
      const events = recorder();
      polling.startProgressTracking("s1", () => {
        throw new Error("boom");
      });
      polling.startProgressTracking("s1", events.onComplete);
      await clock.advance(0);
      assert.equal(events.of("complete").length, 1);
      assert.equal(reported.length, 1);
      assert.equal(reported[0].message, "boom");
    } finally {
      console.error = originalError;
    }
  });
});

describe("stall timer", () => {
  test("ends as stalled 60 s after the last change, not before", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const events = recorder();
    polling.startProgressTracking("s1", events.onComplete, events.onError);
    await clock.advance(59_999);
    assert.equal(events.events.length, 0);
    await clock.advance(1);
    const [event] = events.of("error");
    assert.equal(event.error.kind, "stalled");
    assert.equal(event.error.name, "ProgressTrackingError");
    assert.ok(event.error instanceof Error);
    assert.match(event.error.message, /60 seconds/);
    assert.equal(event.error.sessionId, "s1");
    const count = server.calls.length;
    await clock.advance(10_000);
    assert.equal(server.calls.length, count);
  });

  test("restarts whenever last_updated or version changes", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const events = recorder();
    polling.startProgressTracking("s1", events.onComplete, events.onError);
    await clock.advance(30_500);
    server.update("s1", {}); // a heartbeat: only version and last_updated move
    await clock.advance(500); // seen by the poll at 31 s
    await clock.advance(59_999);
    assert.equal(events.events.length, 0);
    await clock.advance(1);
    assert.equal(events.of("error")[0]?.error.kind, "stalled");
    assert.equal(clock.now(), START + 91_000);
  });

  test("honours a custom staleTimeout", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const events = recorder();
    polling.startProgressTracking("s1", undefined, events.onError, { staleTimeout: 5000 });
    await clock.advance(4999);
    assert.equal(events.events.length, 0);
    await clock.advance(1);
    assert.equal(events.of("error")[0].error.kind, "stalled");
  });
});

describe("transient failures", () => {
  async function failingFor(kind, { random = () => 0.5 } = {}) {
    const setup = await soloTab({ random });
    setup.server.update("s1", {});
    setup.failing = true;
    setup.server.respond = () => {
      if (!setup.failing) return undefined;
      if (kind === "network") return new TypeError("Failed to fetch");
      return new Response("<h1>Bad gateway</h1>", { status: 502 });
    };
    setup.events = recorder();
    setup.poller = setup.polling.startProgressTracking("s1", setup.events.onComplete, setup.events.onError);
    return setup;
  }

  for (const kind of ["network", "5xx"]) {
    test(`${kind}: backs off exponentially, at the bottom of the jitter range`, async () => {
      const { clock, server } = await failingFor(kind, { random: () => 0 });
      await clock.advance(45_000);
      assert.deepEqual(gaps(server.polls()).slice(0, 5), [1000, 2000, 4000, 8000, 15_000]);
    });

    test(`${kind}: backs off exponentially, at the top of the jitter range`, async () => {
      const { clock, server } = await failingFor(kind, { random: () => 0.999_999 });
      await clock.advance(45_000);
      const observed = gaps(server.polls()).slice(0, 4);
      const caps = [2000, 4000, 8000, 16_000];
      observed.forEach((gap, index) => assert.ok(Math.abs(gap - caps[index]) < 1, `${gap}`));
    });

    test(`${kind}: every delay stays within its jitter bounds`, async () => {
      let seed = 7;
      const random = () => {
        seed = (seed * 16_807) % 2_147_483_647;
        return seed / 2_147_483_647;
      };
      const { clock, server } = await failingFor(kind, { random });
      await clock.advance(59_000);
      const observed = gaps(server.polls());
      assert.ok(observed.length >= 4);
      observed.forEach((gap, index) => {
        const cap = Math.min(1000 * 2 ** (index + 1), 30_000);
        assert.ok(gap >= cap / 2 && gap <= cap, `retry ${index + 1}: ${gap} not in [${cap / 2}, ${cap}]`);
      });
    });

    test(`${kind}: tracking survives and returns to the normal pace`, async () => {
      const setup = await failingFor(kind);
      await setup.clock.advance(40_000);
      assert.equal(setup.events.events.length, 0);
      assert.equal(setup.poller.running, true);
      setup.failing = false;
      setup.server.update("s1", { progress: 60 });
      await setup.clock.advance(30_000);
      const recent = setup.server.polls().slice(-5);
      assert.deepEqual(gaps(recent), [1000, 1000, 1000, 1000]);
      assert.equal(setup.events.events.length, 0);
      assert.equal(setup.poller.status.progress, 60);
    });

    test(`${kind}: only 60 s without a change ends tracking`, async () => {
      const { clock, events, server } = await failingFor(kind);
      await clock.advance(59_999);
      assert.equal(events.events.length, 0);
      await clock.advance(1);
      assert.equal(events.of("error")[0].error.kind, "stalled");
      // The last attempt happened right at the deadline.
      assert.equal(server.polls().at(-1).at, START + 60_000);
    });
  }

  test("an invalid JSON body is transient", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    let broken = true;
    server.respond = () => (broken ? new Response("not json", { status: 200 }) : undefined);
    const events = recorder();
    polling.startProgressTracking("s1", undefined, events.onError, { onProgress: events.onProgress });
    await clock.advance(3000);
    broken = false;
    await clock.advance(10_000);
    assert.equal(events.of("error").length, 0);
    assert.equal(events.of("progress").length, 1);
  });

  test("a hanging request is aborted and retried", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    let hang = true;
    server.respond = (call) => {
      if (!hang) return undefined;
      return new Promise((resolve, reject) => {
        call.init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    };
    const events = recorder();
    polling.startProgressTracking("s1", undefined, events.onError, { onProgress: events.onProgress });
    await clock.advance(29_999);
    assert.equal(server.polls().length, 1);
    hang = false;
    await clock.advance(1);
    await clock.advance(3_000);
    // Aborted at 30 s, retried after the first backoff step (1.5 s with random() = 0.5).
    assert.deepEqual(
      server.polls().map((call) => call.at - START),
      [0, 31_500, 32_500],
    );
    assert.equal(events.of("progress").length, 1);
  });
});

describe("errors that end tracking", () => {
  async function endedWith(response, { body = undefined } = {}) {
    const { polling, clock, server, browser } = await soloTab();
    if (body) server.update("s1", body);
    else server.respond = () => response;
    const events = recorder();
    const poller = polling.startProgressTracking("s1", events.onComplete, events.onError);
    polling.startProgressTracking("s1"); // no callbacks: must not break anything
    await clock.advance(0);
    const count = server.calls.length;
    await clock.advance(10_000);
    assert.equal(server.calls.length, count, "no request after the end");
    assert.equal(poller.running, false);
    assert.equal(events.of("error").length, 1);
    assert.equal(events.of("complete").length, 0);
    return { error: events.of("error")[0].error, storage: browser.storage, polling };
  }

  function jsonResponse(status, body) {
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }

  test("404 → not_found, with the server's detail", async () => {
    const { error } = await endedWith(jsonResponse(404, { detail: "Progress session not found." }));
    assert.equal(error.kind, "not_found");
    assert.equal(error.message, "Progress session not found.");
    assert.equal(error.httpStatus, 404);
  });

  test("404 without a JSON body still has a message", async () => {
    const { error } = await endedWith(new Response("gone", { status: 404 }));
    assert.equal(error.kind, "not_found");
    assert.ok(error.message.length > 0);
  });

  test("401 → forbidden", async () => {
    const { error } = await endedWith(
      jsonResponse(401, { detail: "Authentication credentials were not provided." }),
    );
    assert.equal(error.kind, "forbidden");
    assert.equal(error.message, "Authentication credentials were not provided.");
    assert.equal(error.httpStatus, 401);
  });

  test("403 → forbidden", async () => {
    const { error } = await endedWith(jsonResponse(403, { detail: "Nope." }));
    assert.equal(error.kind, "forbidden");
    assert.equal(error.httpStatus, 403);
  });

  test("status error → failed, with the server's error text", async () => {
    const { error } = await endedWith(null, {
      body: { status: "error", error: "Transcription failed: corrupt file", progress: 30 },
    });
    assert.equal(error.kind, "failed");
    assert.equal(error.message, "Transcription failed: corrupt file");
    assert.equal(error.status.progress, 30);
  });
});

describe("many sessions and repeated starts", () => {
  test("tracking a session twice returns the same poller and calls both callbacks", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const first = recorder();
    const second = recorder();
    const a = polling.startProgressTracking("s1", first.onComplete, first.onError, {
      onProgress: first.onProgress,
    });
    await clock.advance(0);
    const b = polling.startProgressTracking("s1", second.onComplete, second.onError, {
      onProgress: second.onProgress,
    });
    assert.equal(a, b);
    await clock.advance(0);
    assert.equal(second.of("progress").length, 1, "a late subscriber gets the current status");
    await clock.advance(2000);
    assert.equal(server.polls().length, 3, "still one request per second");
    server.update("s1", { status: "completed", progress: 100 });
    await clock.advance(1000);
    assert.equal(first.of("complete").length, 1);
    assert.equal(second.of("complete").length, 1);
  });

  test("sessions are independent", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    server.update("s2", {});
    const one = recorder();
    const two = recorder();
    const p1 = polling.startProgressTracking("s1", one.onComplete, one.onError);
    const p2 = polling.startProgressTracking("s2", two.onComplete, two.onError);
    assert.notEqual(p1, p2);
    await clock.advance(1500);
    server.update("s1", { status: "completed", progress: 100 });
    await clock.advance(500);
    assert.equal(one.of("complete").length, 1);
    assert.equal(two.events.length, 0);
    assert.equal(p2.running, true);
    const before = server.polls({ sessionId: "s2" }).length;
    await clock.advance(3000);
    assert.equal(server.polls({ sessionId: "s2" }).length, before + 3);
    assert.equal(server.polls({ sessionId: "s1" }).length, 3, "0 s, 1 s, then completed at 2 s");
  });

  test("stop ends polling without callbacks and without DELETE", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const events = recorder();
    polling.startProgressTracking("s1", events.onComplete, events.onError);
    await clock.advance(1000);
    assert.equal(polling.stopProgressTracking("s1"), true);
    assert.equal(polling.stopProgressTracking("s1"), false);
    const count = server.calls.length;
    await clock.advance(120_000);
    assert.equal(server.calls.length, count);
    assert.equal(events.events.length, 0);
    assert.ok(server.calls.every((call) => call.method === "GET"));
  });

  test("a stopped poller can start again", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    const poller = new polling.ProgressPoller("s1");
    await poller.start();
    poller.stop();
    await clock.advance(5000);
    assert.equal(server.polls().length, 1);
    await poller.start();
    await clock.advance(1000);
    assert.equal(server.polls().length, 3);
    poller.stop();
  });

  test("a new poller after completion tracks again", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { status: "completed", progress: 100 });
    const first = polling.startProgressTracking("s1");
    await clock.advance(0);
    const second = polling.startProgressTracking("s1");
    assert.notEqual(first, second);
    await clock.advance(0);
    assert.equal(server.polls().length, 2);
  });

  test("rejects a missing session id", async () => {
    const { polling } = await soloTab();
    assert.throws(() => new polling.ProgressPoller(""), TypeError);
    assert.throws(() => polling.startProgressTracking(null), TypeError);
  });
});

describe("visibility", () => {
  test("slows to 5× the interval while the page is hidden, speeds up when shown", async () => {
    const { polling, clock, server, tab } = await soloTab({ tab: { visible: false } });
    server.update("s1", {});
    polling.startProgressTracking("s1", undefined, undefined, { staleTimeout: 600_000 });
    await clock.advance(20_000);
    assert.deepEqual(gaps(server.polls()), [5000, 5000, 5000, 5000]);
    await clock.advance(1500); // 1.5 s into a 5 s wait
    tab.document.setVisible(true);
    await clock.advance(0);
    assert.equal(server.polls().at(-1).at, START + 21_500, "polls at once: 1 s is overdue");
    await clock.advance(3000);
    assert.deepEqual(gaps(server.polls()).slice(-4), [1500, 1000, 1000, 1000]);
  });

  test("caps the hidden interval at 30 s", async () => {
    const { polling, clock, server } = await soloTab({ tab: { visible: false } });
    server.update("s1", {});
    server.pollInterval = "10";
    polling.startProgressTracking("s1", undefined, undefined, { staleTimeout: 600_000 });
    await clock.advance(100_000);
    assert.deepEqual(gaps(server.polls()).slice(0, 3), [30_000, 30_000, 30_000]);
  });
});

describe("a cancelled session", () => {
  test("ends tracking through onError with kind cancelled, never onComplete", async () => {
    const browser = createBrowser();
    browser.server.update("s1", { progress: 30 });
    const tab = await page(browser);
    const events = recorder();
    const poller = tab.polling.startProgressTracking("s1", events.onComplete, events.onError, {
      onProgress: events.onProgress,
    });
    await browser.clock.advance(0);
    // Cancelled elsewhere (another device, the admin): the next poll sees it.
    browser.server.update("s1", { status: "cancelled", message: "Processing cancelled." });
    await browser.clock.advance(1000);
    assert.equal(events.of("complete").length, 0);
    const [{ error }] = events.of("error");
    assert.equal(error.kind, "cancelled");
    assert.equal(error.message, "Processing cancelled.");
    assert.equal(error.status.status, "cancelled");
    assert.equal(error.sessionId, "s1");
    assert.equal(events.of("progress").at(-1).status.status, "cancelled");
    assert.equal(poller.running, false);
    assert.deepEqual(tab.polling.getRememberedSessions(), []);
    const polls = browser.server.polls().length;
    await browser.clock.advance(5000);
    assert.equal(browser.server.polls().length, polls, "no poll after the end");
  });
});
