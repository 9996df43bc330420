// Remembering sessions across page loads, discovery, clearing, and the declared API.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";

import { createBrowser, openTab, recorder, STATIC_DIR, statusBody } from "./helpers.mjs";

async function page(browser, options) {
  return openTab(browser, { coordinated: false, ...options });
}

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

  test("resume only picks sessions of the same API", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    browser.server.update("s2", {});
    const first = await page(browser);
    first.polling.startProgressTracking("s1");
    first.polling.startProgressTracking("s2", undefined, undefined, { baseUrl: "/other/api/" });
    await browser.clock.advance(0);
    first.close();
    const second = await page(browser);
    assert.deepEqual(second.polling.getRememberedSessions(), ["s1"]);
    assert.deepEqual(second.polling.getRememberedSessions({ baseUrl: "/other/api" }), ["s2"]);
  });

  test("resuming a session that is already tracked joins it", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    const poller = tab.polling.startProgressTracking("s1");
    const [resumed] = tab.polling.resumeProgressTracking();
    assert.equal(resumed, poller);
  });

  for (const [name, setUp, expected] of [
    ["completes", (server) => server.update("s1", { status: "completed", progress: 100 }), []],
    ["fails", (server) => server.update("s1", { status: "error", error: "x" }), []],
    ["is cleared (404)", (server) => server.sessions.delete("s1"), []],
    [
      "is refused (403)",
      (server) => {
        server.respond = () => new Response("{}", { status: 403 });
      },
      [],
    ],
    ["stalls", () => {}, ["s1"]],
  ]) {
    test(`a session is ${expected.length ? "kept" : "forgotten"} when it ${name}`, async () => {
      const browser = createBrowser();
      browser.server.update("s1", {});
      const tab = await page(browser);
      tab.polling.startProgressTracking("s1");
      await browser.clock.advance(500);
      assert.deepEqual(tab.polling.getRememberedSessions(), ["s1"]);
      setUp(browser.server);
      await browser.clock.advance(60_000);
      assert.equal(tab.polling.getProgressPoller("s1"), null, "tracking ended");
      assert.deepEqual(tab.polling.getRememberedSessions(), expected);
    });
  }

  test("a session is forgotten when stopped explicitly", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    tab.polling.stopProgressTracking("s1");
    assert.deepEqual(tab.polling.getRememberedSessions(), []);
  });

  test("another tab still tracking remembers it again", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tabs = [await openTab(browser), await openTab(browser)];
    tabs.forEach((tab) => tab.polling.startProgressTracking("s1"));
    await browser.clock.advance(1000);
    tabs[0].polling.stopProgressTracking("s1");
    assert.deepEqual(tabs[1].polling.getRememberedSessions(), []);
    browser.server.update("s1", { progress: 5 });
    await browser.clock.advance(2000);
    assert.deepEqual(tabs[1].polling.getRememberedSessions(), ["s1"]);
  });

  test("broken or full storage never stops tracking", async () => {
    const browser = createBrowser();
    browser.storage.setItem("progress-tracking:sessions", "{not json");
    browser.storage.setItem = () => {
      throw new DOMException("full", "QuotaExceededError");
    };
    browser.server.update("s1", {});
    const tab = await page(browser);
    const events = recorder();
    tab.polling.startProgressTracking("s1", events.onComplete, events.onError, {
      onProgress: events.onProgress,
    });
    await browser.clock.advance(1000);
    assert.equal(events.of("progress").length, 1);
    assert.deepEqual(tab.polling.getRememberedSessions(), []);
  });
});

describe("discovery and clearing", () => {
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

  test("clearProgress sends DELETE with the CSRF cookie and stops tracking", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.document.cookie = "sessionid=abc; csrftoken=tok%3D1";
    const poller = tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    browser.server.respond = (call) =>
      call.method === "DELETE"
        ? new Response(JSON.stringify({ message: "Progress data cleared successfully" }), { status: 200 })
        : undefined;
    assert.equal(await tab.polling.clearProgress("s1"), true);
    const deletion = browser.server.calls.at(-1);
    assert.equal(deletion.method, "DELETE");
    assert.equal(deletion.url, "/api/v1/progress/s1");
    assert.equal(deletion.headers.get("X-CSRFToken"), "tok=1");
    assert.equal(poller.running, false);
    assert.deepEqual(tab.polling.getRememberedSessions(), []);

    browser.server.respond = () => new Response("{}", { status: 404 });
    assert.equal(await tab.polling.clearProgress("s1", { headers: { "X-CSRFToken": "mine" } }), false);
    assert.equal(browser.server.calls.at(-1).headers.get("X-CSRFToken"), "mine");
    browser.server.respond = () => new Response("{}", { status: 403 });
    await assert.rejects(tab.polling.clearProgress("s1"), { kind: "forbidden" });
  });
});

describe("declarations", () => {
  test("polling.d.ts declares exactly what polling.js exports", async () => {
    const url = new URL("polling.js?declarations", STATIC_DIR);
    const polling = await import(url.href);
    const declarations = await readFile(new URL("polling.d.ts", STATIC_DIR), "utf8");
    const declared = new Set(
      [...declarations.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map(
        (match) => match[1],
      ),
    );
    assert.deepEqual([...declared].sort(), Object.keys(polling).sort());
  });
});
