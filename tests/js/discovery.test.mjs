// polling/discovery.js: resuming remembered sessions and discovering the server's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, page, recorder, statusBody } from "./helpers.mjs";

describe("auto-resume", () => {
  test("an unfinished session is picked up again after a reload", async () => {
    const browser = createBrowser();
    browser.server.update("s1", { progress: 10 });
    const first = await page(browser);
    first.polling.startProgressTracking("s1");
    await browser.clock.advance(1000);
    first.close(); // the reload: the old page is gone, storage stays

    browser.server.update("s1", { progress: 40 });
    const second = await page(browser);
    assert.deepEqual(second.polling.getRememberedSessions(), ["s1"]);
    const events = recorder();
    const pollers = second.polling.resumeProgressTracking(events.onComplete, events.onError, {
      onProgress: events.onProgress,
    });
    assert.equal(pollers.length, 1);
    assert.equal(pollers[0].sessionId, "s1");
    await browser.clock.advance(0);
    assert.equal(events.of("progress")[0].status.progress, 40);
    browser.server.update("s1", { status: "completed", progress: 100 });
    await browser.clock.advance(1000);
    assert.equal(events.of("complete").length, 1);
    assert.deepEqual(second.polling.getRememberedSessions(), []);
  });

  test("resuming a session that is already tracked joins it", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    const poller = tab.polling.startProgressTracking("s1");
    const [resumed] = tab.polling.resumeProgressTracking();
    assert.equal(resumed, poller);
  });
});

describe("discovery", () => {
  test("lists the caller's running sessions and tracks them", async () => {
    const browser = createBrowser();
    browser.server.update("s1", { progress: 10 });
    browser.server.update("s2", { progress: 20 });
    browser.server.listed = [
      statusBody({ session_id: "s1" }),
      statusBody({ session_id: "s2" }),
      { not: "a status" },
    ];
    const tab = await page(browser);
    const listed = await tab.polling.listProgressSessions({ headers: { Authorization: "Token t" } });
    assert.deepEqual(
      listed.map((status) => status.session_id),
      ["s1", "s2"],
    );
    const [listCall] = browser.server.calls;
    assert.equal(listCall.url, "/api/v1/progress/");
    assert.equal(listCall.headers.get("Authorization"), "Token t");
    assert.equal(listCall.init.credentials, "same-origin");

    const pollers = await tab.polling.discoverProgressTracking();
    assert.deepEqual(
      pollers.map((poller) => poller.sessionId),
      ["s1", "s2"],
    );
    await browser.clock.advance(0);
    assert.equal(browser.server.polls().length, 2);
  });

  test("listing reports refusal and server errors", async () => {
    const browser = createBrowser();
    const tab = await page(browser);
    browser.server.respond = () => new Response(JSON.stringify({ detail: "Log in." }), { status: 401 });
    await assert.rejects(tab.polling.listProgressSessions(), { kind: "forbidden", message: "Log in." });
    browser.server.respond = () => new Response("oops", { status: 500 });
    await assert.rejects(tab.polling.listProgressSessions(), { kind: "unavailable", httpStatus: 500 });
  });
});

describe("what discovery tracks", () => {
  test("only the listed sessions still processing, with an id", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    browser.server.listed = [
      statusBody({ session_id: "s1" }),
      statusBody({ session_id: "done", status: "completed" }),
      statusBody({ session_id: "" }),
    ];
    const tab = await page(browser);
    const pollers = await tab.polling.discoverProgressTracking();
    assert.deepEqual(
      pollers.map((poller) => poller.sessionId),
      ["s1"],
    );
  });

  test("a base URL with or without a trailing slash is the same API", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.polling.startProgressTracking("s1", undefined, undefined, { baseUrl: "/other/api/" });
    assert.deepEqual(tab.polling.getRememberedSessions({ baseUrl: "/other/api" }), ["s1"]);
    assert.deepEqual(tab.polling.getRememberedSessions({ baseUrl: "/other/api///" }), ["s1"]);
    assert.deepEqual(tab.polling.getRememberedSessions(), []);
  });
});
