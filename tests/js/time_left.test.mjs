// The bar's "about 2 minutes left": coarse steps, no flicker, hidden when unknown, localised.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { buildBar, FakeDocument } from "./fake-dom.mjs";
import { createBrowser, STATIC_DIR } from "./helpers.mjs";

const polling = await import(new URL("polling.js", STATIC_DIR).href);
const bars = await import(new URL("progress_bar.js", STATIC_DIR).href);

describe("steps and text", () => {
  for (const [eta, text] of [
    [5, "less than a minute left"],
    [44, "less than a minute left"],
    [50, "about 1 minute left"],
    [125, "about 2 minutes left"],
    [599, "about 10 minutes left"],
    [700, "about 10 minutes left"],
    [1500, "about 25 minutes left"],
    [3400, "about 55 minutes left"],
    [3500, "about 1 hour left"],
    [5 * 3600 + 100, "about 5 hours left"],
  ]) {
    test(`${eta} s reads "${text}"`, () => {
      assert.equal(bars.timeLeftText(bars.timeLeftStep(eta)), text);
    });
  }

  test("unknown estimates have no step and no text", () => {
    for (const eta of [null, undefined, Number.NaN, -1, "soon"]) {
      assert.equal(bars.timeLeftStep(eta), null);
    }
    assert.equal(bars.timeLeftText(null), "");
  });

  test("a shown step stays while estimates wobble around it", () => {
    let shown = bars.nextTimeLeft(null, 120);
    const texts = [];
    for (const eta of [120, 140, 100, 150, 95, 130, 110]) {
      shown = bars.nextTimeLeft(shown, eta);
      texts.push(bars.timeLeftText(shown));
    }
    assert.deepEqual(new Set(texts), new Set(["about 2 minutes left"]));
  });

  test("a steady count-down moves through the steps in order, never back up", () => {
    let shown = null;
    const counts = [];
    for (let eta = 900; eta >= 0; eta -= 3) {
      shown = bars.nextTimeLeft(shown, eta);
      counts.push(shown.seconds);
    }
    const changes = counts.filter((value, index) => index === 0 || value !== counts[index - 1]);
    assert.deepEqual(changes, [...changes].sort((a, b) => b - a), "the text went back up");
    // 15 min, then whole minutes, then "less than a minute": at most one change a step.
    assert.ok(changes.length <= 16, `changed ${changes.length} times`);
  });

  test("a real change (a stall doubling the estimate) shows at once", () => {
    const shown = bars.nextTimeLeft(null, 120);
    assert.equal(bars.timeLeftText(bars.nextTimeLeft(shown, 300)), "about 5 minutes left");
    assert.equal(bars.nextTimeLeft(shown, null), null);
  });
});

describe("on the bar", () => {
  let browser;
  let timers;
  let sessionId;
  let counter = 0;

  beforeEach(() => {
    browser = createBrowser();
    timers = browser.clock.scope();
    counter += 1;
    sessionId = `eta-${counter}`;
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

  function attach() {
    const bar = buildBar(new FakeDocument(), { sessionId });
    bars.attachProgressBar(bar, {
      now: browser.clock.now,
      setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
      clearTimeout: (id) => timers.clearTimeout(id),
    });
    return { bar, eta: bar.querySelector("[data-progress-tracking-eta]") };
  }

  test("hidden while unknown, shown once known, steady across polls, hidden when done", async () => {
    browser.server.update(sessionId, { progress: 1, eta_seconds: null });
    const { eta } = attach();
    await browser.clock.advance(0);
    assert.equal(eta.hidden, true);
    assert.equal(eta.textContent, "");
    const shown = [];
    for (const seconds of [125, 118, 131, 110, 122]) {
      browser.server.update(sessionId, { progress: 40, eta_seconds: seconds });
      await browser.clock.advance(1000);
      assert.equal(eta.hidden, false);
      shown.push(eta.textContent);
    }
    assert.deepEqual(new Set(shown), new Set(["about 2 minutes left"]));
    browser.server.update(sessionId, { progress: 40, eta_seconds: null });
    await browser.clock.advance(1000);
    assert.equal(eta.hidden, true, "a stall that makes it unknown hides it");
    browser.server.update(sessionId, { status: "completed", progress: 100, eta_seconds: 0 });
    await browser.clock.advance(1000);
    assert.equal(eta.hidden, true);
  });

  test("a failure hides it", async () => {
    browser.server.update(sessionId, { progress: 40, eta_seconds: 600 });
    const { bar, eta } = attach();
    await browser.clock.advance(0);
    assert.equal(eta.textContent, "about 10 minutes left");
    browser.server.update(sessionId, { status: "error", error: "Corrupt file" });
    await browser.clock.advance(1000);
    assert.equal(bar.getAttribute("data-state"), "error");
    assert.equal(eta.hidden, true);
  });

  test("is translated through Django's JavaScript catalog", async () => {
    globalThis.gettext = (msgid) => `«${msgid}»`;
    globalThis.ngettext = (singular, plural, count) => `«${count === 1 ? singular : plural}»`;
    globalThis.interpolate = (format, values) => format.replace(/%\((\w+)\)s/g, (_, name) => `[${values[name]}]`);
    browser.server.update(sessionId, { progress: 40, eta_seconds: 180 });
    const { eta } = attach();
    await browser.clock.advance(0);
    assert.equal(eta.textContent, "«about [3] minutes left»");
  });
});
