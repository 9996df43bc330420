// polling/tabs.js: several tabs of one browser: leader election, shared statuses, shared
// visibility.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, gaps, issueCapabilities, openTab, recorder, START } from "./helpers.mjs";

const HEADER = "X-Progress-Capability";

async function browserWithTabs(count, { visible = [] } = {}) {
  const browser = createBrowser();
  const tabs = [];
  for (let index = 0; index < count; index += 1) {
    tabs.push(await openTab(browser, { visible: visible[index] ?? true }));
  }
  return { browser, tabs, clock: browser.clock, server: browser.server };
}

function track(tab, sessionId = "s1", options = {}) {
  const events = recorder();
  const poller = tab.polling.startProgressTracking(sessionId, events.onComplete, events.onError, {
    onProgress: events.onProgress,
    ...options,
  });
  return { poller, events };
}

describe("one poller for all tabs", () => {
  test("only one tab polls; every tab receives every status", async () => {
    const { tabs, clock, server } = await browserWithTabs(3);
    server.update("s1", { progress: 10 });
    const tracked = tabs.map((tab) => track(tab));
    await clock.advance(0);
    server.update("s1", { progress: 20 });
    await clock.advance(10_000);
    const polls = server.polls();
    assert.equal(new Set(polls.map((call) => call.tabId)).size, 1, "a single tab polls");
    assert.equal(polls.length, 11, "one request per second, whatever the number of tabs");
    assert.deepEqual(
      tracked.map(({ poller }) => poller.role).sort(),
      ["follower", "follower", "leader"],
    );
    for (const { events } of tracked) {
      assert.deepEqual(
        events.of("progress").map((event) => event.status.progress),
        [10, 20],
      );
    }
  });

  test("requests per second do not grow with the number of tabs", async () => {
    const counts = [];
    for (const count of [1, 2, 5]) {
      const { tabs, clock, server } = await browserWithTabs(count);
      server.update("s1", {});
      tabs.forEach((tab) => track(tab));
      await clock.advance(20_000);
      counts.push(server.polls().length);
    }
    assert.deepEqual(counts, [21, 21, 21]);
  });

  test("a follower's start() resolves with the leader's status", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", { progress: 33 });
    track(tabs[0]);
    await clock.advance(1500);
    const poller = new tabs[1].polling.ProgressPoller("s1");
    let resolved = null;
    poller.start().then((status) => {
      resolved = status;
    });
    await clock.advance(0);
    assert.equal(poller.role, "follower");
    assert.equal(resolved?.progress, 33, "answered by the leader, without a request");
    assert.equal(server.polls({ tabId: tabs[1].id }).length, 0);
  });

  test("completion reaches every tab, and nobody polls afterwards", async () => {
    const { tabs, clock, server, browser } = await browserWithTabs(2);
    server.update("s1", {});
    const tracked = tabs.map((tab) => track(tab));
    await clock.advance(1000);
    server.update("s1", { status: "completed", progress: 100 });
    await clock.advance(1000);
    for (const { events, poller } of tracked) {
      assert.equal(events.of("complete").length, 1);
      assert.equal(events.of("complete")[0].status.status, "completed");
      assert.equal(poller.running, false);
    }
    const count = server.calls.length;
    await clock.advance(10_000);
    assert.equal(server.calls.length, count);
    assert.equal(browser.locks.holder("progress-tracking:session:s1"), null);
    assert.ok(server.calls.every((call) => call.method === "GET"));
  });

  for (const [name, respond, kind] of [
    ["failure", null, "failed"],
    ["404", () => new Response(JSON.stringify({ detail: "Gone." }), { status: 404 }), "not_found"],
    ["403", () => new Response(JSON.stringify({ detail: "No." }), { status: 403 }), "forbidden"],
  ]) {
    test(`a ${name} seen by the leader ends every tab with ${kind}`, async () => {
      const { tabs, clock, server } = await browserWithTabs(2);
      server.update("s1", {});
      const tracked = tabs.map((tab) => track(tab));
      await clock.advance(1000);
      if (respond) server.respond = respond;
      else server.update("s1", { status: "error", error: "Disk full" });
      await clock.advance(1000);
      for (const { events } of tracked) {
        const [event] = events.of("error");
        assert.equal(event?.error.kind, kind);
        if (kind === "failed") assert.equal(event.error.message, "Disk full");
      }
    });
  }

  test("stalls together: followers end with the leader", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", {});
    const tracked = tabs.map((tab) => track(tab));
    await clock.advance(59_999);
    assert.ok(tracked.every(({ events }) => events.events.length === 1), "only the first progress");
    await clock.advance(1);
    for (const { events } of tracked) assert.equal(events.of("error")[0]?.error.kind, "stalled");
  });

  test("sessions get their own leaders and callbacks", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", { progress: 1 });
    server.update("s2", { progress: 2 });
    const a1 = track(tabs[0], "s1");
    const b2 = track(tabs[1], "s2");
    const b1 = track(tabs[1], "s1");
    await clock.advance(5000);
    assert.equal(a1.poller.role, "leader");
    assert.equal(b2.poller.role, "leader");
    assert.equal(b1.poller.role, "follower");
    assert.deepEqual(b1.events.of("progress").map((event) => event.status.progress), [1]);
    assert.deepEqual(b2.events.of("progress").map((event) => event.status.progress), [2]);
    assert.equal(server.polls({ sessionId: "s1" }).length, 6);
    assert.equal(server.polls({ sessionId: "s2" }).length, 6);
  });
});

describe("pollers of one session in one tab", () => {
  test("a manual poller and a tracked one share one leader without ping-pong", async () => {
    const { tabs, clock, server, browser } = await browserWithTabs(1);
    server.update("s1", { progress: 10 });
    const tracked = track(tabs[0]);
    const manual = new tabs[0].polling.ProgressPoller("s1");
    const events = recorder();
    manual.subscribe({ onProgress: events.onProgress });
    manual.start();
    await clock.advance(5000);
    assert.deepEqual([tracked.poller.role, manual.role].sort(), ["follower", "leader"]);
    assert.equal(server.polls().length, 6);
    assert.deepEqual(events.of("progress").map((event) => event.status.progress), [10]);
    const stolen = browser.bus.messages.filter((message) => message.data.type === "state").length;
    assert.ok(stolen <= 7, `no storm of hand-overs (${stolen} state messages)`);
    manual.stop();
  });

  test("a follower's start() waits for the leader's first answer", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", { progress: 5 });
    let release;
    server.respond = () =>
      new Promise((resolve) => {
        release = resolve;
      });
    track(tabs[0]);
    await clock.advance(0);
    const follower = new tabs[1].polling.ProgressPoller("s1");
    let resolved;
    follower.start().then((status) => {
      resolved = status;
    });
    await clock.advance(0);
    assert.equal(resolved, undefined, "nothing heard from the server yet");
    server.respond = null;
    release(server.answer(server.calls[0]));
    await clock.advance(0);
    assert.equal(resolved?.progress, 5);
  });
});

describe("takeover", () => {
  test("when the leader tab closes another tab takes over at once", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", {});
    const [leader, follower] = tabs.map((tab) => track(tab));
    await clock.advance(3500);
    assert.equal(leader.poller.role, "leader");
    tabs[0].close();
    await clock.advance(0);
    assert.equal(follower.poller.role, "leader");
    const taken = server.polls({ tabId: tabs[1].id });
    assert.equal(taken.length, 1);
    assert.equal(taken[0].at, START + 3500);
    assert.equal(taken[0].headers.get("If-None-Match"), '"s1-1"', "the shared ETag is reused");
    await clock.advance(3000);
    assert.deepEqual(gaps(server.polls({ tabId: tabs[1].id })), [1000, 1000, 1000]);
    assert.equal(follower.events.of("error").length, 0);
  });

  test("stopping in the leader tab hands over to the others", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", {});
    const [leader, follower] = tabs.map((tab) => track(tab));
    await clock.advance(2000);
    leader.poller.stop();
    await clock.advance(2000);
    assert.equal(follower.poller.role, "leader");
    assert.equal(follower.poller.running, true);
    assert.equal(server.polls({ tabId: tabs[1].id }).length, 3);
    assert.equal(leader.events.events.length, 1, "stop calls no callback");
  });

  test("the stall deadline survives a takeover", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", {});
    const [, follower] = tabs.map((tab) => track(tab));
    await clock.advance(40_000);
    tabs[0].close();
    await clock.advance(19_999);
    assert.equal(follower.events.of("error").length, 0);
    await clock.advance(1);
    assert.equal(follower.events.of("error")[0]?.error.kind, "stalled");
  });

  test("a silent leader is replaced after staleTimeout", async () => {
    const { tabs, clock, server } = await browserWithTabs(2);
    server.update("s1", {});
    const [leader, follower] = tabs.map((tab) => track(tab, "s1", { staleTimeout: 600_000 }));
    await clock.advance(2000);
    // The leader tab is frozen: it keeps its lock but runs no timer.
    tabs[0].timers.freeze();
    await clock.advance(300_000);
    server.update("s1", { progress: 50 }); // the worker lives on; nobody sees it
    await clock.advance(299_999);
    assert.equal(server.polls({ tabId: tabs[1].id }).length, 0);
    assert.equal(follower.events.of("progress").length, 1);
    await clock.advance(1);
    assert.equal(follower.poller.role, "leader");
    assert.equal(server.polls({ tabId: tabs[1].id }).length, 1);
    assert.equal(follower.poller.status.progress, 50);
    assert.equal(follower.events.of("error").length, 0);
    assert.equal(leader.poller.role, "follower", "the old leader lost its lock");
  });
});

describe("shared visibility", () => {
  test("polling slows only when no tab is visible", async () => {
    const { tabs, clock, server } = await browserWithTabs(2, { visible: [false, true] });
    server.update("s1", {});
    server.update("s2", {});
    // Tab 0 (hidden) leads s1; tab 1 (visible) tracks another session.
    track(tabs[0], "s1", { staleTimeout: 600_000 });
    track(tabs[1], "s2", { staleTimeout: 600_000 });
    await clock.advance(10_000);
    assert.deepEqual(gaps(server.polls({ sessionId: "s1" })).slice(-3), [1000, 1000, 1000]);
    tabs[1].document.setVisible(false);
    await clock.advance(30_000);
    assert.deepEqual(gaps(server.polls({ sessionId: "s1" })).slice(-3), [5000, 5000, 5000]);
    tabs[1].document.setVisible(true);
    await clock.advance(5000);
    assert.deepEqual(gaps(server.polls({ sessionId: "s1" })).slice(-3), [1000, 1000, 1000]);
  });

  test("a visible tab that crashed stops counting after a while", async () => {
    const { tabs, clock, server } = await browserWithTabs(2, { visible: [false, true] });
    server.update("s1", {});
    server.update("s2", {});
    track(tabs[0], "s1", { staleTimeout: 600_000 });
    track(tabs[1], "s2", { staleTimeout: 600_000 });
    await clock.advance(5000);
    // A crash: no pagehide, no goodbye, its channel just goes quiet.
    tabs[1].timers.freeze();
    await clock.advance(60_000);
    assert.deepEqual(gaps(server.polls({ sessionId: "s1" })).slice(-3), [5000, 5000, 5000]);
  });

  test("a visible tab takes the lead from a hidden leader", async () => {
    const { tabs, clock, server } = await browserWithTabs(2, { visible: [true, true] });
    server.update("s1", {});
    const [first, second] = tabs.map((tab) => track(tab));
    await clock.advance(2000);
    assert.equal(first.poller.role, "leader");
    tabs[0].document.setVisible(false);
    await clock.advance(0);
    assert.equal(second.poller.role, "leader");
    assert.equal(first.poller.role, "follower");
    await clock.advance(3000);
    assert.deepEqual(gaps(server.polls({ tabId: tabs[1].id })), [1000, 1000, 1000]);
    const before = server.polls({ tabId: tabs[0].id }).length;
    await clock.advance(3000);
    assert.equal(server.polls({ tabId: tabs[0].id }).length, before, "the hidden tab stopped polling");
    assert.equal(first.events.of("progress").length, 1);
  });
});

describe("without Web Locks or BroadcastChannel", () => {
  test("every tab polls on its own and still works", async () => {
    const browser = createBrowser();
    const tabs = [
      await openTab(browser, { coordinated: false }),
      await openTab(browser, { coordinated: false }),
    ];
    browser.server.update("s1", {});
    const tracked = tabs.map((tab) => track(tab));
    await browser.clock.advance(2000);
    assert.ok(tracked.every(({ poller }) => poller.role === "solo"));
    assert.equal(browser.server.polls({ tabId: tabs[0].id }).length, 3);
    assert.equal(browser.server.polls({ tabId: tabs[1].id }).length, 3);
    browser.server.update("s1", { status: "completed", progress: 100 });
    await browser.clock.advance(1000);
    assert.ok(tracked.every(({ events }) => events.of("complete").length === 1));
  });

  test("a lock manager that refuses falls back to polling alone", async () => {
    const browser = createBrowser();
    const tab = await openTab(browser);
    tab.polling.configureEnvironment({
      fetch: browser.server.fetchFor(tab.id),
      storage: browser.storage,
      BroadcastChannel: browser.bus.channelClassFor(tab.id),
      locks: {
        request: () => Promise.reject(new DOMException("opaque origin", "SecurityError")),
      },
      document: tab.document,
      window: tab.window,
      setTimeout: tab.timers.setTimeout,
      clearTimeout: tab.timers.clearTimeout,
      now: browser.clock.now,
      random: () => 0.5,
    });
    browser.server.update("s1", {});
    const { poller } = track(tab);
    await browser.clock.advance(1000);
    assert.equal(poller.role, "solo");
    assert.equal(browser.server.polls().length, 2);
  });
});

describe("resources", () => {
  test("the channel and listeners go when nothing is tracked", async () => {
    const { tabs, clock, server, browser } = await browserWithTabs(1);
    server.update("s1", {});
    const { poller } = track(tabs[0]);
    await clock.advance(0);
    assert.equal(browser.bus.channels.size, 1);
    assert.equal(tabs[0].document.listenerCount("visibilitychange"), 1);
    poller.stop();
    await clock.advance(0);
    assert.equal(browser.bus.channels.size, 0);
    assert.equal(tabs[0].document.listenerCount("visibilitychange"), 0);
    assert.equal(tabs[0].window.listenerCount("pagehide"), 0);
    assert.equal(clock.timers.size, 0, "no timer left behind");
  });
});

describe("shared capability", () => {
  test("a tab that takes over keeps sending the leader's capability", async () => {
    const browser = createBrowser();
    const tabs = [await openTab(browser), await openTab(browser)];
    const { clock, server } = browser;
    server.update("s1", {});
    const state = issueCapabilities(server);
    for (const tab of tabs) tab.polling.startProgressTracking("s1");
    await clock.advance(0);
    state.issuing = false;
    await clock.advance(1500);
    const leader = tabs.find((tab) => tab.polling.getProgressPoller("s1").role === "leader");
    const follower = tabs.find((tab) => tab !== leader);
    leader.close();
    await clock.advance(1000);
    const taken = server.polls({ tabId: follower.id });
    assert.ok(taken.length >= 1);
    assert.equal(taken[0].headers.get(HEADER), "cap-1");
  });
});

describe("cancel", () => {
  test("a cancel in the leader's tab ends the followers too", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const leader = await openTab(browser);
    const follower = await openTab(browser);
    const first = recorder();
    const second = recorder();
    const poller = leader.polling.startProgressTracking("s1", first.onComplete, first.onError);
    await browser.clock.advance(0);
    follower.polling.startProgressTracking("s1", second.onComplete, second.onError);
    await browser.clock.advance(1000);
    assert.equal(poller.role, "leader");
    await poller.cancel();
    await browser.clock.advance(0);
    assert.equal(first.of("error")[0].error.kind, "cancelled");
    assert.equal(second.of("error")[0].error.kind, "cancelled");
  });
});
