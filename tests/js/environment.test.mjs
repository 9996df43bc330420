// polling/environment.js: the browser APIs the modules use, replaceable for tests.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { loadModules, statusBody } from "./helpers.mjs";

describe("module hygiene", () => {
  test("imports in Node without touching browser globals", async () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
    Object.defineProperty(globalThis, "localStorage", {
      configurable: true,
      get() {
        throw new Error("SecurityError: storage disabled");
      },
    });
    try {
      const url = new URL("../../progress_tracking/static/progress_tracking/polling.js?hygiene", import.meta.url);
      const polling = await import(url.href);
      let calls = 0;
      const poller = polling.startProgressTracking("s1", undefined, undefined, {
        fetch: async () => {
          calls += 1;
          return new Response(JSON.stringify(statusBody()), { status: 200 });
        },
      });
      const status = await poller.start();
      assert.equal(status.session_id, "s1");
      assert.equal(calls, 1);
      assert.equal(poller.role, "solo");
      assert.deepEqual(polling.getRememberedSessions(), []);
      poller.stop();
    } finally {
      if (descriptor) Object.defineProperty(globalThis, "localStorage", descriptor);
      else delete globalThis.localStorage;
    }
  });
});

describe("env", () => {
  test("reads the browser once, and keeps it until replaced", async () => {
    const { environment } = await loadModules("environment");
    const first = environment.env();
    assert.equal(environment.env(), first);
    // What Node offers of the browser's APIs: fetch, timers, maybe BroadcastChannel.
    assert.equal(typeof first.fetch, "function");
    assert.equal(first.document, null);
    assert.equal(first.window, null);
    assert.equal(first.locks, globalThis.navigator?.locks ?? null);
    assert.equal(first.BroadcastChannel, globalThis.BroadcastChannel ?? null);
    assert.equal(typeof first.now(), "number");
  });

  test("replaceEnvironment puts the overrides on top of the browser's", async () => {
    const { environment } = await loadModules("environment");
    const first = environment.env();
    environment.replaceEnvironment({ now: () => 42, storage: "fake storage" });
    const second = environment.env();
    assert.notEqual(second, first);
    assert.equal(second.now(), 42);
    assert.equal(second.storage, "fake storage");
    assert.equal(typeof second.random(), "number", "what is not overridden is the browser's");
    environment.replaceEnvironment();
    assert.equal(environment.env().storage, first.storage, "each replacement starts afresh");
  });
});
