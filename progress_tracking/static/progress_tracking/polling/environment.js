/**
 * Everything that touches the browser goes through here, so the modules import cleanly in
 * Node and tests can inject fakes.
 */

let environment = null;

function browserEnvironment() {
  const g = globalThis;
  let storage = null;
  try {
    // Reading localStorage throws in sandboxed iframes and with storage disabled.
    storage = g.localStorage ?? null;
  } catch {
    storage = null;
  }
  return {
    fetch: typeof g.fetch === "function" ? (url, init) => g.fetch(url, init) : null,
    storage,
    BroadcastChannel: typeof g.BroadcastChannel === "function" ? g.BroadcastChannel : null,
    locks: g.navigator?.locks ?? null,
    document: g.document ?? null,
    window: g.window ?? null,
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (id) => g.clearTimeout(id),
    now: () => Date.now(),
    random: () => Math.random(),
  };
}

/** The environment in force: the browser's, read on first use, or the one configured. */
export function env() {
  environment ??= browserEnvironment();
  return environment;
}

/**
 * Use the browser's environment with `overrides` on top. The public `configureEnvironment`
 * (polling.js) also closes the tab's coordination first, which still holds the old one.
 */
export function replaceEnvironment(overrides = {}) {
  environment = { ...browserEnvironment(), ...overrides };
}
