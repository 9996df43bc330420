// Cancel: poller.cancel(), cancelProgress() and how tracking ends for a cancelled session.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, openTab, recorder } from "./helpers.mjs";

async function page(browser, options) {
  return openTab(browser, { coordinated: false, ...options });
}

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

describe("poller.cancel()", () => {
  test("posts to the cancel URL with the CSRF cookie and ends tracking at once", async () => {
    const browser = createBrowser();
    browser.server.update("a b", { progress: 30 });
    const tab = await page(browser);
    tab.document.cookie = "sessionid=abc; csrftoken=tok%3D1";
    const events = recorder();
    const poller = tab.polling.startProgressTracking("a b", events.onComplete, events.onError);
    await browser.clock.advance(0);

    const status = await poller.cancel();
    assert.equal(status.status, "cancelled");
    const post = browser.server.calls.at(-1);
    assert.equal(post.method, "POST");
    assert.equal(post.url, "/api/v1/progress/a%20b/cancel");
    assert.equal(post.headers.get("X-CSRFToken"), "tok=1");
    assert.equal(post.init.credentials, "same-origin");
    // Without waiting for the next poll.
    assert.equal(events.of("error").length, 1);
    assert.equal(events.of("error")[0].error.kind, "cancelled");
    assert.equal(poller.running, false);
  });

  test("a session that had already completed ends through onComplete", async () => {
    const browser = createBrowser();
    browser.server.update("s1", { progress: 30 });
    const tab = await page(browser);
    const events = recorder();
    const poller = tab.polling.startProgressTracking("s1", events.onComplete, events.onError);
    await browser.clock.advance(0);
    browser.server.update("s1", { status: "completed", progress: 100 });
    const status = await poller.cancel();
    assert.equal(status.status, "completed");
    assert.equal(events.of("complete").length, 1);
    assert.equal(events.of("error").length, 0);
  });

  test("refusals reject with the matching kind and leave tracking alone", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    const poller = tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    const answer = (status, body) => () =>
      new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
    browser.server.respond = answer(403, { detail: "CSRF Failed: CSRF token missing." });
    await assert.rejects(poller.cancel(), {
      kind: "forbidden",
      message: "CSRF Failed: CSRF token missing.",
      httpStatus: 403,
    });
    browser.server.respond = answer(404, { detail: "Progress session not found." });
    await assert.rejects(poller.cancel(), { kind: "not_found", httpStatus: 404 });
    browser.server.respond = answer(503, { detail: "Progress is temporarily unavailable." });
    await assert.rejects(poller.cancel(), { kind: "unavailable", httpStatus: 503 });
    browser.server.respond = answer(200, "not json");
    await assert.rejects(poller.cancel(), { kind: "unavailable", httpStatus: 200 });
    assert.equal(poller.running, true);
  });
});

describe("cancelProgress()", () => {
  test("cancels a session this page does not track, and ends one it does", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    browser.server.update("s2", {});
    const tab = await page(browser);
    const events = recorder();
    tab.polling.startProgressTracking("s2", events.onComplete, events.onError);
    await browser.clock.advance(0);

    assert.equal((await tab.polling.cancelProgress("s1")).status, "cancelled");
    assert.equal(events.of("error").length, 0, "s2 is not affected");
    const sent = await tab.polling.cancelProgress("s2", { headers: { "X-CSRFToken": "mine" } });
    assert.equal(sent.status, "cancelled");
    assert.equal(browser.server.calls.at(-1).headers.get("X-CSRFToken"), "mine");
    assert.equal(events.of("error")[0].error.kind, "cancelled");
    assert.equal(tab.polling.getProgressPoller("s2"), null);
  });

  test("sends no cookie token to another site's API", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.document.cookie = "csrftoken=tok";
    await tab.polling.cancelProgress("s1", { baseUrl: "https://api.example.org/progress" });
    const post = browser.server.calls.at(-1);
    assert.equal(post.url, "https://api.example.org/progress/s1/cancel");
    assert.equal(post.headers.get("X-CSRFToken"), null);
  });
});

describe("several tabs", () => {
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
