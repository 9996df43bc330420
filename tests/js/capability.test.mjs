// The signed read capability: picked up from responses, sent back, shared between tabs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { buildBar, FakeDocument } from "./fake-dom.mjs";
import { createBrowser, openTab, STATIC_DIR } from "./helpers.mjs";

const HEADER = "X-Progress-Capability";

/** The fake server hands out `cap-<n>` on every answer while `issuing` is on. */
function issueCapabilities(server) {
  const state = { issuing: true, issued: 0 };
  server.respond = (call) => {
    const response = server.answer(call);
    if (state.issuing && response.status < 400) {
      state.issued += 1;
      response.headers.set(HEADER, `cap-${state.issued}`);
    }
    return response;
  };
  return state;
}

async function soloTab() {
  const browser = createBrowser();
  const tab = await openTab(browser, { coordinated: false });
  return { tab, polling: tab.polling, clock: browser.clock, server: browser.server };
}

describe("read capability", () => {
  test("exports the header name", async () => {
    const { polling } = await soloTab();
    assert.equal(polling.CAPABILITY_HEADER, HEADER);
  });

  test("picks the capability up from a response and sends it on the next polls", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 5 });
    const state = issueCapabilities(server);
    polling.startProgressTracking("s1");
    await clock.advance(0);
    state.issuing = false; // the fast path does not renew it
    await clock.advance(2000);
    const polls = server.polls();
    assert.equal(polls.length, 3);
    assert.equal(polls[0].headers.get(HEADER), null, "nothing to send before the first answer");
    assert.equal(polls[1].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get("If-None-Match"), '"s1-1"', "still conditional");
  });

  test("a renewed capability replaces the old one, also from a 304", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    issueCapabilities(server);
    polling.startProgressTracking("s1");
    await clock.advance(2000);
    const polls = server.polls();
    assert.equal(polls[1].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get(HEADER), "cap-2", "taken from the 304 answer");
  });

  test("a capability passed in the options is sent from the first poll", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    polling.startProgressTracking("s1", undefined, undefined, { capability: "from-page" });
    await clock.advance(1000);
    for (const poll of server.polls()) assert.equal(poll.headers.get(HEADER), "from-page");
  });

  test("an empty or non-string capability option is ignored", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    server.update("s2", {});
    polling.startProgressTracking("s1", undefined, undefined, { capability: "" });
    polling.startProgressTracking("s2", undefined, undefined, { capability: 42 });
    await clock.advance(0);
    for (const poll of server.polls()) assert.equal(poll.headers.get(HEADER), null);
  });

  test("the capability never appears in a URL", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    issueCapabilities(server);
    polling.startProgressTracking("s1", undefined, undefined, { capability: "secret-cap" });
    await clock.advance(3000);
    for (const call of server.calls) {
      assert.ok(!call.url.includes("cap-"), call.url);
      assert.ok(!call.url.includes("secret-cap"), call.url);
    }
  });

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
