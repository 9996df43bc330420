// polling/constants.js: the values polling.js's modules and progress_bar.js share.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, test } from "node:test";

import { loadModules, STATIC_DIR } from "./helpers.mjs";

const { constants } = await loadModules("constants");

/** Every .js file under the static folder, as [path relative to it, source]. */
async function staticModules() {
  const names = await readdir(STATIC_DIR, { recursive: true });
  const modules = names.filter((name) => name.endsWith(".js")).sort();
  return Promise.all(
    modules.map(async (name) => [name, await readFile(new URL(name, STATIC_DIR), "utf8")]),
  );
}

describe("final states", () => {
  test("are completed, error and cancelled, and cannot be changed", () => {
    assert.deepEqual([...constants.FINAL_STATES], ["completed", "error", "cancelled"]);
    assert.ok(Object.isFrozen(constants.FINAL_STATES));
    assert.throws(() => constants.FINAL_STATES.push("processing"), TypeError);
  });

  test("are every state polling.d.ts declares but processing", async () => {
    const declarations = await readFile(new URL("polling.d.ts", STATIC_DIR), "utf8");
    const [, union] = declarations.match(/export type ProgressState =([^;]+);/);
    const declared = [...union.matchAll(/"(\w+)"/g)].map((match) => match[1]);
    assert.deepEqual(
      declared.filter((state) => !constants.FINAL_STATES.includes(state)),
      ["processing"],
    );
    assert.ok(constants.FINAL_STATES.every((state) => declared.includes(state)));
  });

  test("are defined here only; progress_bar.js imports them", async () => {
    const list = /["'](?:completed|error|cancelled)["']\s*,\s*["'](?:completed|error|cancelled)["']/;
    const defining = [];
    for (const [name, source] of await staticModules()) {
      if (/\bFINAL_STATES\s*=/.test(source) || list.test(source)) defining.push(name);
    }
    assert.deepEqual(defining, ["polling/constants.js"]);
    const bar = await readFile(new URL("progress_bar.js", STATIC_DIR), "utf8");
    assert.match(bar, /import \{ FINAL_STATES \} from "\.\/polling\/constants\.js";/);
  });
});

describe("defaults", () => {
  test("are the documented ones, and cannot be changed", () => {
    assert.deepEqual(
      { ...constants.DEFAULTS },
      { interval: 1000, staleTimeout: 60000, baseUrl: "/api/v1/progress" },
    );
    assert.ok(Object.isFrozen(constants.DEFAULTS));
  });

  test("the capability header is the one polling.js exports", async () => {
    const polling = await import(new URL("polling.js?constants", STATIC_DIR).href);
    assert.equal(constants.CAPABILITY_HEADER, "X-Progress-Capability");
    assert.equal(polling.CAPABILITY_HEADER, constants.CAPABILITY_HEADER);
  });

  test("constants.js touches nothing else", async () => {
    const source = await readFile(new URL("polling/constants.js", STATIC_DIR), "utf8");
    assert.doesNotMatch(source, /^\s*import\b/m);
    assert.doesNotMatch(source, /globalThis|window|document/);
  });
});
