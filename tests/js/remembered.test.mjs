// polling/remembered.js: the sessions this browser remembers across page loads.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, loadModules, MemoryStorage, openTab, page, recorder } from "./helpers.mjs";

describe("auto-resume", () => {
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

describe("the stored list", () => {
  /** remembered.js over a fresh storage and a clock that moves on at every read. */
  async function rememberedModule(storage = new MemoryStorage()) {
    const { environment, remembered } = await loadModules("environment", "remembered");
    let time = 0;
    environment.replaceEnvironment({ storage, now: () => (time += 1) });
    return { remembered, storage };
  }

  test("keeps the 50 newest sessions, oldest first", async () => {
    const { remembered, storage } = await rememberedModule();
    for (let index = 0; index < 55; index += 1) remembered.remember(`s${index}`, "/api");
    const ids = remembered.rememberedFor("/api");
    assert.equal(ids.length, 50);
    assert.deepEqual(ids.slice(0, 2), ["s5", "s6"]);
    assert.equal(ids.at(-1), "s54");
    assert.equal(Object.keys(JSON.parse(storage.getItem("progress-tracking:sessions"))).length, 50);
  });

  test("remembering again keeps the first time; another API takes the session over", async () => {
    const { remembered } = await rememberedModule();
    remembered.remember("a", "/api");
    remembered.remember("b", "/api");
    remembered.remember("a", "/api");
    assert.deepEqual(remembered.rememberedFor("/api"), ["a", "b"]);
    remembered.remember("a", "/other");
    assert.deepEqual(remembered.rememberedFor("/api"), ["b"]);
    assert.deepEqual(remembered.rememberedFor("/other"), ["a"]);
  });

  test("forgetting the last session removes the key; an unknown one writes nothing", async () => {
    const { remembered, storage } = await rememberedModule();
    remembered.remember("a", "/api");
    let writes = 0;
    const setItem = storage.setItem.bind(storage);
    storage.setItem = (key, value) => {
      writes += 1;
      setItem(key, value);
    };
    remembered.forget("unknown");
    assert.equal(writes, 0);
    remembered.forget("a");
    assert.equal(storage.getItem("progress-tracking:sessions"), null);
  });

  test("a value that is not a map of sessions reads as none", async () => {
    for (const stored of ["[1, 2]", "null", "42", "{not json"]) {
      const storage = new MemoryStorage();
      storage.setItem("progress-tracking:sessions", stored);
      const { remembered } = await rememberedModule(storage);
      assert.deepEqual(remembered.rememberedFor("/api"), [], stored);
    }
  });

  test("without storage nothing is remembered, and nothing fails", async () => {
    const { remembered } = await rememberedModule(null);
    remembered.remember("a", "/api");
    remembered.forget("a");
    assert.deepEqual(remembered.rememberedFor("/api"), []);
  });
});
