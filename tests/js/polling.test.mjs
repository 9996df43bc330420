// polling.js, the public entry point: what it exports, as polling.d.ts declares it.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";

import { createBrowser, openTab, STATIC_DIR } from "./helpers.mjs";

const HEADER = "X-Progress-Capability";

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

describe("exports", () => {
  test("exports the header name", async () => {
    const { polling } = await openTab(createBrowser(), { coordinated: false });
    assert.equal(polling.CAPABILITY_HEADER, HEADER);
  });
});

describe("the entry point", () => {
  test("re-exports the modules' own objects", async () => {
    const tab = await openTab(createBrowser(), { coordinated: false });
    const module = (name) => import(new URL(`polling/${name}.js?${tab.id}`, STATIC_DIR).href);
    const [poller, discovery, errors] = await Promise.all(
      ["poller", "discovery", "errors"].map(module),
    );
    assert.equal(tab.polling.ProgressPoller, poller.ProgressPoller);
    assert.equal(tab.polling.startProgressTracking, poller.startProgressTracking);
    assert.equal(tab.polling.cancelProgress, poller.cancelProgress);
    assert.equal(tab.polling.resumeProgressTracking, discovery.resumeProgressTracking);
    assert.equal(tab.polling.ProgressTrackingError, errors.ProgressTrackingError);
  });

  test("configureEnvironment first closes what the tab holds", async () => {
    const browser = createBrowser();
    const tab = await openTab(browser);
    browser.server.update("s1", {});
    tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    assert.equal(browser.bus.channels.size, 1);
    assert.equal(tab.document.listenerCount("visibilitychange"), 1);
    tab.polling.configureEnvironment({ now: browser.clock.now });
    assert.equal(browser.bus.channels.size, 0);
    assert.equal(tab.document.listenerCount("visibilitychange"), 0);
    assert.equal(tab.window.listenerCount("pagehide"), 0);
    assert.equal(browser.bus.messages.at(-1).data.type, "bye");
  });
});

describe("the module graph", () => {
  test("imports are relative, name .js files, and have no cycle", async () => {
    const imports = new Map();
    const visit = async (url) => {
      if (imports.has(url)) return;
      const source = await readFile(new URL(url), "utf8");
      const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)";/gm)];
      imports.set(url, specifiers.map((match) => match[1]));
      for (const specifier of imports.get(url)) {
        // A browser without a bundler resolves no bare names and adds no extension.
        assert.match(specifier, /^\.\.?\/.*\.js$/, `${url} imports ${specifier}`);
        await visit(new URL(specifier, url).href);
      }
    };
    const bar = new URL("progress_bar.js", STATIC_DIR).href;
    await visit(bar);
    const done = new Set();
    const walk = (url, path) => {
      assert.ok(!path.includes(url), `import cycle: ${[...path, url].join(" -> ")}`);
      if (done.has(url)) return;
      for (const specifier of imports.get(url)) walk(new URL(specifier, url).href, [...path, url]);
      done.add(url);
    };
    walk(bar, []);
    const names = [...imports.keys()].map((url) => url.slice(STATIC_DIR.href.length)).sort();
    assert.deepEqual(names, [
      "polling.js",
      "polling/constants.js",
      "polling/discovery.js",
      "polling/environment.js",
      "polling/errors.js",
      "polling/http.js",
      "polling/options.js",
      "polling/poller.js",
      "polling/remembered.js",
      "polling/tabs.js",
      "progress_bar.js",
    ]);
  });
});
