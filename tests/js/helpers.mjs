// Test doubles for polling.js: a fake clock, a fake progress server behind a fake fetch,
// and fake browser tabs (storage, BroadcastChannel, Web Locks, document visibility).
import { register } from "node:module";

export const STATIC_DIR = new URL("../../progress_tracking/static/progress_tracking/", import.meta.url);

// A tab's query string reaches every module of polling.js (see page-load-hooks.mjs).
register("./page-load-hooks.mjs", import.meta.url, { data: { root: STATIC_DIR.href } });
const POLLING_URL = new URL("polling.js", STATIC_DIR).href;

export const START = 1_700_000_000_000;

/** Let pending promise chains (fetch, response.json(), locks) run. */
export async function settle(rounds = 8) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
  constructor(start = START) {
    this.time = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.time;
  }

  /** Timers owned by one tab, so closing or freezing the tab cancels them. */
  scope() {
    const clock = this;
    const ids = new Set();
    const scope = {
      frozen: false,
      setTimeout(fn, ms = 0) {
        const id = clock.nextId;
        clock.nextId += 1;
        if (scope.frozen) return id;
        ids.add(id);
        clock.timers.set(id, { id, at: clock.time + Math.max(0, Number(ms) || 0), fn, ids });
        return id;
      },
      clearTimeout(id) {
        clock.timers.delete(id);
        ids.delete(id);
      },
      freeze() {
        scope.frozen = true;
        for (const id of ids) clock.timers.delete(id);
        ids.clear();
      },
    };
    return scope;
  }

  /** Move time forward by `ms`, running due timers in order and settling in between. */
  async advance(ms) {
    const end = this.time + ms;
    await settle();
    for (;;) {
      let next = null;
      for (const timer of this.timers.values()) {
        if (timer.at > end) continue;
        if (!next || timer.at < next.at || (timer.at === next.at && timer.id < next.id)) next = timer;
      }
      if (!next) break;
      this.timers.delete(next.id);
      next.ids.delete(next.id);
      this.time = Math.max(this.time, next.at);
      next.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

export function statusBody(overrides = {}) {
  return {
    session_id: "s1",
    status: "processing",
    progress: 0,
    message: "Processing...",
    total_files: 1,
    processed_files: 0,
    current_file: null,
    last_updated: Math.floor(START / 1000),
    error: null,
    failed_files: 0,
    files: [],
    files_total: 0,
    file_list: [],
    version: 1,
    elapsed_seconds: 0,
    eta_seconds: null,
    ...overrides,
  };
}

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/**
 * A fake progress API. Sessions answer like the real status endpoint (ETag, 304,
 * X-Poll-Interval when set); `server.respond` can override any request.
 */
export class FakeServer {
  constructor(clock) {
    this.clock = clock;
    this.sessions = new Map();
    this.calls = [];
    this.closedTabs = new Set();
    this.pollInterval = null; // seconds, as a string header value
    this.respond = null; // (call) => Response | Error | Promise<Response> | undefined
    this.listed = [];
  }

  /** Create or update a session: bumps version and last_updated like the services do. */
  update(sessionId, patch = {}) {
    const previous = this.sessions.get(sessionId) ?? statusBody({ session_id: sessionId, version: 0 });
    const body = {
      ...previous,
      ...patch,
      session_id: sessionId,
      version: previous.version + 1,
      last_updated: Math.floor(this.clock.now() / 1000),
    };
    this.sessions.set(sessionId, body);
    return body;
  }

  fetchFor(tabId) {
    return (url, init = {}) => this.fetch(tabId, url, init);
  }

  async fetch(tabId, url, init) {
    if (this.closedTabs.has(tabId)) return new Promise(() => {});
    const headers = new Headers(init.headers ?? {});
    const call = { tabId, url: String(url), init, headers, method: init.method ?? "GET", at: this.clock.now() };
    this.calls.push(call);
    const custom = this.respond ? await this.respond(call) : undefined;
    if (custom instanceof Error) throw custom;
    if (custom) return custom;
    return this.answer(call);
  }

  answer(call) {
    const path = new URL(call.url, "http://testserver").pathname;
    if (call.method === "GET" && path.endsWith("/")) return json({ results: this.listed });
    const cancel = call.method === "POST" && path.match(/\/([^/]+)\/cancel$/);
    if (cancel) return this.cancel(decodeURIComponent(cancel[1]));
    const match = path.match(/\/([^/]+)\/status$/);
    if (!match) return json({ detail: "Not found." }, 404);
    const body = this.sessions.get(decodeURIComponent(match[1]));
    if (!body) return json({ detail: "Progress session not found." }, 404);
    const etag = `"${body.session_id}-${body.version}"`;
    const extra = this.pollInterval === null ? {} : { "X-Poll-Interval": this.pollInterval };
    if (call.headers.get("If-None-Match") === etag) {
      return new Response(null, { status: 304, headers: { ETag: etag, ...extra } });
    }
    return json(body, 200, { ETag: etag, "Cache-Control": "no-cache", ...extra });
  }

  /** POST {id}/cancel: a processing session ends cancelled; a finished one stays as it is. */
  cancel(sessionId) {
    const body = this.sessions.get(sessionId);
    if (!body) return json({ detail: "Progress session not found." }, 404);
    if (body.status !== "processing") return json(body);
    return json(this.update(sessionId, { status: "cancelled", message: "Processing cancelled." }));
  }

  /** Status requests made so far, optionally only those of one tab or session. */
  polls({ tabId, sessionId } = {}) {
    return this.calls.filter(
      (call) =>
        call.url.endsWith("/status") &&
        (tabId === undefined || call.tabId === tabId) &&
        (sessionId === undefined || call.url.includes(`/${encodeURIComponent(sessionId)}/`)),
    );
  }
}

export class MemoryStorage {
  constructor() {
    this.data = new Map();
  }
  getItem(key) {
    return this.data.has(key) ? this.data.get(key) : null;
  }
  setItem(key, value) {
    this.data.set(key, String(value));
  }
  removeItem(key) {
    this.data.delete(key);
  }
}

export class FakeEventTarget {
  constructor() {
    this.listeners = new Map();
  }
  addEventListener(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
  }
  removeEventListener(type, listener) {
    this.listeners.get(type)?.delete(listener);
  }
  dispatch(type) {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener({ type });
  }
  listenerCount(type) {
    return this.listeners.get(type)?.size ?? 0;
  }
}

export class FakeDocument extends FakeEventTarget {
  constructor(visible = true) {
    super();
    this.visibilityState = visible ? "visible" : "hidden";
    this.cookie = "";
  }
  setVisible(visible) {
    this.visibilityState = visible ? "visible" : "hidden";
    this.dispatch("visibilitychange");
  }
}

/** One BroadcastChannel namespace shared by all fake tabs of a test. */
export class FakeBus {
  constructor() {
    this.channels = new Set();
    this.messages = [];
  }

  channelClassFor(tabId) {
    const bus = this;
    return class FakeBroadcastChannel {
      constructor(name) {
        this.name = name;
        this.tabId = tabId;
        this.onmessage = null;
        this.closed = false;
        bus.channels.add(this);
      }
      postMessage(data) {
        if (this.closed) throw new Error("InvalidStateError: channel closed");
        const copy = structuredClone(data);
        bus.messages.push({ tabId, data: copy });
        for (const channel of bus.channels) {
          if (channel === this || channel.name !== this.name) continue;
          queueMicrotask(() => {
            if (!channel.closed) channel.onmessage?.({ data: structuredClone(copy) });
          });
        }
      }
      close() {
        this.closed = true;
        bus.channels.delete(this);
      }
    };
  }

  closeTab(tabId) {
    for (const channel of [...this.channels]) if (channel.tabId === tabId) channel.close();
  }
}

function abortError() {
  return new DOMException("The lock request was aborted.", "AbortError");
}

/** The Web Locks API (exclusive mode, signal, steal) shared by all fake tabs of a test. */
export class FakeLockManager {
  constructor() {
    this.holders = new Map(); // name -> entry
    this.queues = new Map(); // name -> entries
  }

  forTab(tabId) {
    return { request: (name, options, callback) => this.request(tabId, name, options, callback) };
  }

  request(tabId, name, options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    return new Promise((resolve, reject) => {
      const entry = { tabId, name, callback, resolve, reject, released: false };
      if (options.steal && options.signal) throw new DOMException("steal + signal", "NotSupportedError");
      if (options.signal?.aborted) {
        reject(abortError());
        return;
      }
      if (options.steal) {
        const holder = this.holders.get(name);
        if (holder) {
          holder.released = true;
          this.holders.delete(name);
          holder.reject(abortError());
        }
        this.grant(entry);
        return;
      }
      if (!this.queues.has(name)) this.queues.set(name, []);
      const queue = this.queues.get(name);
      queue.push(entry);
      options.signal?.addEventListener("abort", () => {
        const index = queue.indexOf(entry);
        if (index >= 0) {
          queue.splice(index, 1);
          reject(abortError());
        }
      });
      this.pump(name);
    });
  }

  pump(name) {
    if (this.holders.has(name)) return;
    const next = this.queues.get(name)?.shift();
    if (next) this.grant(next);
  }

  grant(entry) {
    this.holders.set(entry.name, entry);
    queueMicrotask(async () => {
      let result;
      let error;
      let failed = false;
      try {
        result = await entry.callback({ name: entry.name, mode: "exclusive" });
      } catch (caught) {
        failed = true;
        error = caught;
      }
      if (!entry.released) {
        entry.released = true;
        if (this.holders.get(entry.name) === entry) this.holders.delete(entry.name);
        if (failed) entry.reject(error);
        else entry.resolve(result);
      }
      this.pump(entry.name);
    });
  }

  holder(name) {
    return this.holders.get(name)?.tabId ?? null;
  }

  /** What the browser does when a tab closes: its locks go, its requests vanish. */
  releaseTab(tabId) {
    for (const [name, entry] of [...this.holders]) {
      if (entry.tabId !== tabId) continue;
      entry.released = true;
      this.holders.delete(name);
    }
    for (const [name, queue] of this.queues) {
      this.queues.set(
        name,
        queue.filter((entry) => entry.tabId !== tabId),
      );
    }
    for (const name of [...this.queues.keys()]) this.pump(name);
  }
}

/** Everything tabs of one browser share. */
export function createBrowser({ random = () => 0.5 } = {}) {
  const clock = new FakeClock();
  return {
    clock,
    server: new FakeServer(clock),
    storage: new MemoryStorage(),
    bus: new FakeBus(),
    locks: new FakeLockManager(),
    random,
  };
}

let tabCounter = 0;
let modulesCounter = 0;

/**
 * Fresh instances of modules of polling/ (`loadModules("http", "environment")`), sharing
 * one query string so they import each other, and nothing any other test has loaded.
 */
export async function loadModules(...names) {
  modulesCounter += 1;
  const query = `?modules${modulesCounter}`;
  const modules = await Promise.all(
    names.map((name) => import(new URL(`polling/${name}.js${query}`, STATIC_DIR).href)),
  );
  return Object.fromEntries(names.map((name, index) => [name, modules[index]]));
}

/**
 * Open a tab: fresh instances of polling.js and its modules (a query string makes Node load
 * them again, like a page load) wired to the shared fakes.
 */
export async function openTab(browser, { visible = true, coordinated = true } = {}) {
  tabCounter += 1;
  const id = `tab${tabCounter}`;
  const polling = await import(`${POLLING_URL}?${id}`);
  const timers = browser.clock.scope();
  const document = new FakeDocument(visible);
  const window = new FakeEventTarget();
  polling.configureEnvironment({
    fetch: browser.server.fetchFor(id),
    storage: browser.storage,
    BroadcastChannel: coordinated ? browser.bus.channelClassFor(id) : null,
    locks: coordinated ? browser.locks.forTab(id) : null,
    document,
    window,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    now: browser.clock.now,
    random: () => browser.random(),
  });
  return {
    id,
    polling,
    document,
    window,
    timers,
    /** Close the tab the way a browser does: pagehide, then everything it held goes. */
    close() {
      window.dispatch("pagehide");
      timers.freeze();
      browser.server.closedTabs.add(id);
      browser.bus.closeTab(id);
      browser.locks.releaseTab(id);
    },
  };
}

/** The fake server hands out `cap-<n>` on every answer while `issuing` is on. */
export function issueCapabilities(server) {
  const state = { issuing: true, issued: 0 };
  server.respond = (call) => {
    const response = server.answer(call);
    if (state.issuing && response.status < 400) {
      state.issued += 1;
      response.headers.set("X-Progress-Capability", `cap-${state.issued}`);
    }
    return response;
  };
  return state;
}

/** Record callbacks. */
export function recorder() {
  const events = [];
  return {
    events,
    onComplete: (status) => events.push({ type: "complete", status }),
    onError: (error) => events.push({ type: "error", error }),
    onProgress: (status) => events.push({ type: "progress", status }),
    of(type) {
      return events.filter((event) => event.type === type);
    },
  };
}

/** Differences between consecutive request times. */
export function gaps(calls) {
  return calls.slice(1).map((call, index) => call.at - calls[index].at);
}

/** A tab that polls on its own (no coordination with other tabs), in a fresh browser. */
export async function soloTab(options = {}) {
  const browser = createBrowser(options);
  const tab = await openTab(browser, { coordinated: false, ...options.tab });
  return { browser, tab, polling: tab.polling, clock: browser.clock, server: browser.server };
}

/** Another uncoordinated tab (a page load) in an existing browser. */
export async function page(browser, options) {
  return openTab(browser, { coordinated: false, ...options });
}
