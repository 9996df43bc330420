/**
 * Browser poller for django-progress-tracking.
 *
 * A dependency-free ES module: import it from the static URL, no build step.
 *
 *   import { startProgressTracking } from "/static/progress_tracking/polling.js";
 *   startProgressTracking(sessionId, onComplete, onError, { onProgress });
 *
 * One poller per session and page. Tabs of the same site elect one leader per session
 * (Web Locks) and share every status over a BroadcastChannel, so requests to the server do
 * not grow with the number of open tabs. Without those APIs every tab polls on its own.
 */

/**
 * Header of the signed read capability. The server hands one out on status responses (and
 * pages can pass one in `options.capability`); sent back, it lets the server answer a poll
 * without looking up the caller's session or user. Never put in a URL.
 */
export const CAPABILITY_HEADER = "X-Progress-Capability";

const DEFAULTS = Object.freeze({
  interval: 1000,
  staleTimeout: 60000,
  baseUrl: "/api/v1/progress",
});

const HIDDEN_SLOWDOWN = 5;
const HIDDEN_INTERVAL_CAP = 30000;
const BACKOFF_CAP = 30000;
const REQUEST_TIMEOUT = 30000;
const MIN_SERVER_INTERVAL = 100;
const MAX_SERVER_INTERVAL = 60000;
const VISIBILITY_HEARTBEAT = 5000;
const VISIBILITY_TTL = 12000;
const STORAGE_KEY = "progress-tracking:sessions";
const STORAGE_LIMIT = 50;
const CHANNEL_NAME = "progress-tracking";
const LOCK_PREFIX = "progress-tracking:session:";

// Hooks the tab coordinator calls on pollers; symbols keep them off the public surface.
const RECEIVE = Symbol("receive");
const VISIBILITY = Symbol("visibility");
const ACCEPT = Symbol("accept");

/** The error every `onError` callback receives. */
export class ProgressTrackingError extends Error {
  constructor(kind, message, { sessionId = null, status = null, httpStatus = null } = {}) {
    super(message);
    this.name = "ProgressTrackingError";
    this.kind = kind;
    this.sessionId = sessionId;
    this.status = status;
    this.httpStatus = httpStatus;
  }
}

// ---------------------------------------------------------------------------------------
// Environment: everything that touches the browser goes through here, so the module
// imports cleanly in Node and tests can inject fakes.

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

function env() {
  environment ??= browserEnvironment();
  return environment;
}

/**
 * Replace parts of the browser environment (storage, BroadcastChannel, locks, document,
 * window, fetch, timers, clock, random). Meant for tests and non-browser hosts; call it
 * before tracking starts.
 */
export function configureEnvironment(overrides = {}) {
  resetTab();
  environment = { ...browserEnvironment(), ...overrides };
}

// ---------------------------------------------------------------------------------------
// Small helpers

function normalizeBaseUrl(baseUrl) {
  return String(baseUrl ?? DEFAULTS.baseUrl).replace(/\/+$/, "");
}

function positive(value, fallback) {
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : fallback;
}

function headersToObject(headers) {
  const result = {};
  if (!headers) return result;
  if (typeof headers.forEach === "function" && !Array.isArray(headers)) {
    headers.forEach((value, name) => {
      result[name] = value;
    });
  } else {
    const entries = Array.isArray(headers) ? headers : Object.entries(headers);
    for (const [name, value] of entries) result[name] = String(value);
  }
  return result;
}

function normalizeOptions(options) {
  const o = options ?? {};
  return {
    interval: positive(o.interval, DEFAULTS.interval),
    staleTimeout: positive(o.staleTimeout, DEFAULTS.staleTimeout),
    baseUrl: normalizeBaseUrl(o.baseUrl),
    headers: headersToObject(o.headers),
    fetch: typeof o.fetch === "function" ? o.fetch : null,
    capability: typeof o.capability === "string" && o.capability ? o.capability : null,
  };
}

function fetcher(options) {
  const fetchImpl = options.fetch ?? env().fetch;
  if (typeof fetchImpl !== "function") throw new TypeError("No fetch implementation available");
  return fetchImpl;
}

function requestInit(options, extraHeaders = {}, method = "GET") {
  return {
    method,
    // Cookie (session) authentication; the author-set If-None-Match needs no HTTP cache.
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json", ...options.headers, ...extraHeaders },
  };
}

function sessionUrl(options, sessionId, suffix = "") {
  return `${options.baseUrl}/${encodeURIComponent(sessionId)}${suffix}`;
}

function header(response, name) {
  const headers = response?.headers;
  return typeof headers?.get === "function" ? headers.get(name) : null;
}

function parseSeconds(value, min, max) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) return null;
  return Math.min(Math.max(seconds * 1000, min), max);
}

async function readDetail(response, fallback) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string" && body.detail) return body.detail;
  } catch {
    // No JSON body: keep the fallback.
  }
  return fallback;
}

function isStatusBody(body) {
  return body !== null && typeof body === "object" && typeof body.status === "string";
}

function changeKeyOf(status) {
  return `${status.version ?? ""}|${status.last_updated ?? ""}`;
}

function report(error) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else globalThis.console?.error?.(error);
}

function safely(callback, value) {
  if (typeof callback !== "function") return;
  try {
    callback(value);
  } catch (error) {
    // A throwing callback must not stop the poller or the other callbacks.
    report(error);
  }
}

function randomId() {
  const uuid = globalThis.crypto?.randomUUID?.();
  return uuid ?? `${env().now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

async function readStatusResponse(response) {
  const interval = parseSeconds(
    header(response, "X-Poll-Interval"),
    MIN_SERVER_INTERVAL,
    MAX_SERVER_INTERVAL,
  );
  const code = response.status;
  const capability = header(response, CAPABILITY_HEADER);
  if (code === 304) return { kind: "unchanged", interval, capability };
  if (code >= 200 && code < 300) {
    let body;
    try {
      body = await response.json();
    } catch {
      return { kind: "transient", interval };
    }
    if (!isStatusBody(body)) return { kind: "transient", interval };
    return { kind: "status", status: body, etag: header(response, "ETag"), interval, capability };
  }
  if (code === 404) {
    const message = await readDetail(response, "Progress session not found.");
    return { kind: "not_found", message, httpStatus: code };
  }
  if (code === 401 || code === 403) {
    const message = await readDetail(response, "Not allowed to read this progress session.");
    return { kind: "forbidden", message, httpStatus: code };
  }
  const retryAfter = parseSeconds(header(response, "Retry-After"), 0, BACKOFF_CAP);
  return { kind: "transient", interval, retryAfter };
}

// ---------------------------------------------------------------------------------------
// Sessions remembered across page loads (localStorage), for auto-resume.

function readRemembered() {
  const storage = env().storage;
  if (!storage) return {};
  try {
    const value = JSON.parse(storage.getItem(STORAGE_KEY) ?? "{}");
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

function writeRemembered(sessions) {
  const storage = env().storage;
  if (!storage) return;
  const entries = Object.entries(sessions)
    .sort(([, a], [, b]) => (b?.since ?? 0) - (a?.since ?? 0))
    .slice(0, STORAGE_LIMIT);
  try {
    if (entries.length) storage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(entries)));
    else storage.removeItem(STORAGE_KEY);
  } catch {
    // Quota exceeded or storage disabled: resume is a convenience, tracking goes on.
  }
}

function remember(sessionId, baseUrl) {
  const sessions = readRemembered();
  if (sessions[sessionId]?.baseUrl === baseUrl) return;
  sessions[sessionId] = { baseUrl, since: env().now() };
  writeRemembered(sessions);
}

function forget(sessionId) {
  const sessions = readRemembered();
  if (!(sessionId in sessions)) return;
  delete sessions[sessionId];
  writeRemembered(sessions);
}

/** Ids of the unfinished sessions this browser remembers for `options.baseUrl`. */
export function getRememberedSessions(options = {}) {
  const baseUrl = normalizeBaseUrl(options?.baseUrl);
  return Object.entries(readRemembered())
    .filter(([, entry]) => entry?.baseUrl === baseUrl)
    .sort(([, a], [, b]) => (a.since ?? 0) - (b.since ?? 0))
    .map(([sessionId]) => sessionId);
}

// ---------------------------------------------------------------------------------------
// The tab: shares statuses and visibility with the other tabs of the site.

let tab = null;

function currentTab() {
  tab ??= new Tab(env());
  return tab;
}

function resetTab() {
  tab?.close();
  tab = null;
}

class Tab {
  constructor(environmentValues) {
    this.env = environmentValues;
    this.id = randomId();
    this.coordinated = Boolean(environmentValues.locks && environmentValues.BroadcastChannel);
    this.members = new Map(); // sessionId -> Set<ProgressPoller>
    this.peers = new Map(); // tabId -> { visible, seenAt }
    this.channel = null;
    this.heartbeat = null;
    this.open = false;
    this.onVisibilityChange = () => this.visibilityChanged();
    this.onPageHide = () => this.broadcast({ type: "bye" });
  }

  get visible() {
    const state = this.env.document?.visibilityState;
    return state !== "hidden";
  }

  peerVisible(tabId) {
    const peer = this.peers.get(tabId);
    return Boolean(peer?.visible && this.env.now() - peer.seenAt < VISIBILITY_TTL);
  }

  anyVisible() {
    if (this.visible) return true;
    for (const tabId of this.peers.keys()) if (this.peerVisible(tabId)) return true;
    return false;
  }

  join(poller) {
    let pollers = this.members.get(poller.sessionId);
    if (!pollers) {
      pollers = new Set();
      this.members.set(poller.sessionId, pollers);
    }
    pollers.add(poller);
    if (!this.open) this.start();
  }

  leave(poller) {
    const pollers = this.members.get(poller.sessionId);
    if (!pollers) return;
    pollers.delete(poller);
    if (!pollers.size) this.members.delete(poller.sessionId);
    // Close the channel once nothing is tracked, so idle pages hold no resources.
    if (!this.members.size) this.close();
  }

  start() {
    this.open = true;
    this.env.document?.addEventListener?.("visibilitychange", this.onVisibilityChange);
    if (!this.coordinated) return;
    this.env.window?.addEventListener?.("pagehide", this.onPageHide);
    this.channel = new this.env.BroadcastChannel(CHANNEL_NAME);
    this.channel.onmessage = (event) => this.receive(event.data);
    this.announceVisibility();
  }

  close() {
    if (!this.open) return;
    this.open = false;
    this.env.document?.removeEventListener?.("visibilitychange", this.onVisibilityChange);
    this.env.window?.removeEventListener?.("pagehide", this.onPageHide);
    if (this.heartbeat !== null) this.env.clearTimeout(this.heartbeat);
    this.heartbeat = null;
    if (this.channel) {
      this.broadcast({ type: "bye" });
      this.channel.close();
      this.channel = null;
    }
    this.peers.clear();
  }

  announceVisibility() {
    if (this.heartbeat !== null) this.env.clearTimeout(this.heartbeat);
    this.heartbeat = null;
    if (!this.channel) return;
    this.broadcast({ type: "visibility" });
    // Visible tabs repeat themselves so a crashed tab stops counting after the TTL.
    if (this.visible) {
      this.heartbeat = this.env.setTimeout(() => this.announceVisibility(), VISIBILITY_HEARTBEAT);
    }
  }

  broadcast(message) {
    const full = { ...message, from: this.id, visible: this.visible };
    try {
      this.channel?.postMessage(full);
    } catch (error) {
      report(error);
    }
    return full;
  }

  /** Send to the other tabs and to the other pollers of the same session in this tab. */
  publish(sender, message) {
    const full = this.broadcast(message);
    for (const poller of [...(this.members.get(message.sessionId) ?? [])]) {
      if (poller !== sender) poller[RECEIVE](full);
    }
  }

  receive(message) {
    if (!message || typeof message !== "object" || message.from === this.id) return;
    const wasVisible = this.peerVisible(message.from);
    if (message.type === "bye") this.peers.delete(message.from);
    else this.peers.set(message.from, { visible: Boolean(message.visible), seenAt: this.env.now() });
    if (wasVisible !== this.peerVisible(message.from)) this.notifyVisibility();
    if (typeof message.sessionId !== "string") return;
    for (const poller of [...(this.members.get(message.sessionId) ?? [])]) poller[RECEIVE](message);
  }

  visibilityChanged() {
    this.announceVisibility();
    this.notifyVisibility();
  }

  notifyVisibility() {
    for (const pollers of [...this.members.values()]) {
      for (const poller of [...pollers]) poller[VISIBILITY]();
    }
  }
}

// ---------------------------------------------------------------------------------------
// The poller

const registry = new Map(); // sessionId -> the active poller started first in this page

export class ProgressPoller {
  #options;
  #listeners = new Set();
  #state = "idle"; // idle | running | stopped | completed | cancelled | failed
  #role = null; // solo | leader | follower
  #tab = null;
  #status = null;
  #statusJson = null;
  #changeKey;
  #changedAt = 0;
  #etag = null;
  #capability = null;
  #serverInterval = null;
  #failures = 0;
  #lastAttemptAt = 0;
  #answered = false;
  #nextPollAt = 0;
  #timer = null;
  #inflight = null;
  #watchdog = null;
  #lockController = null;
  #lockRelease = null;
  #leaderTab = null;
  #stealing = false;
  #startPromise = null;
  #resolveStart = null;

  constructor(sessionId, onComplete, onError, options = {}) {
    if (sessionId === null || sessionId === undefined || String(sessionId) === "") {
      throw new TypeError("ProgressPoller needs a session id");
    }
    this.sessionId = String(sessionId);
    this.#options = normalizeOptions(options);
    this.#capability = this.#options.capability;
    this.#listeners.add({ onComplete, onError, onProgress: options?.onProgress });
  }

  /** The latest status body received, or null. */
  get status() {
    return this.#status;
  }

  /** True between `start()` and the end of tracking. */
  get running() {
    return this.#state === "running";
  }

  /** "solo" (polls alone), "leader" (polls for every tab), "follower" or null. */
  get role() {
    return this.#role;
  }

  get baseUrl() {
    return this.#options.baseUrl;
  }

  /**
   * Add callbacks; returns a function that removes them. A running poller with a status
   * calls the new `onProgress` with it right away (asynchronously).
   */
  subscribe({ onComplete, onError, onProgress } = {}) {
    const listener = { onComplete, onError, onProgress };
    this.#listeners.add(listener);
    if (this.#state === "running" && this.#status && typeof onProgress === "function") {
      const status = this.#status;
      queueMicrotask(() => {
        if (this.#listeners.has(listener)) safely(onProgress, status);
      });
    }
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Start polling; resolves with the first status (or null) after the first response. */
  start() {
    if (this.#startPromise) return this.#startPromise;
    this.#startPromise = new Promise((resolve) => {
      this.#resolveStart = resolve;
    });
    const e = env();
    this.#state = "running";
    this.#changedAt = e.now();
    if (!registry.has(this.sessionId)) registry.set(this.sessionId, this);
    remember(this.sessionId, this.#options.baseUrl);
    this.#tab = currentTab();
    this.#tab.join(this);
    if (this.#tab.coordinated) {
      this.#role = "follower";
      this.#armWatchdog();
      this.#tab.publish(this, { type: "hello", sessionId: this.sessionId });
      this.#requestLeadership(false);
    } else {
      this.#role = "solo";
      this.#poll();
    }
    return this.#startPromise;
  }

  /** Stop tracking in this page and forget the session. Never clears it on the server. */
  stop() {
    if (this.#state !== "running") return;
    this.#state = "stopped";
    this.#teardown();
    forget(this.sessionId);
    this.#settleStart();
    this.#startPromise = null;
  }

  /**
   * Cancel the session on the server (`POST {baseUrl}/{sessionId}/cancel`); resolves with
   * the status body it answers. Tracking then ends like any poll that sees that status:
   * `onError` with kind `cancelled` (or `onComplete` / `failed` if the work had already
   * ended). Rejects with a `ProgressTrackingError` (`not_found`, `forbidden`, `unavailable`).
   */
  async cancel() {
    const status = await postCancel(this.#options, this.sessionId);
    this[ACCEPT](status);
    return status;
  }

  [ACCEPT](status) {
    if (this.#state === "running" && isStatusBody(status)) this.#acceptStatus(status);
  }

  // -- leadership --------------------------------------------------------------------

  #requestLeadership(steal) {
    const locks = this.#tab.env.locks;
    const previous = this.#lockController;
    const controller = new AbortController();
    this.#lockController = controller;
    previous?.abort();
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    // steal cannot be combined with signal; a steal is granted at once anyway.
    const lockOptions = steal ? { steal: true } : { signal: controller.signal };
    Promise.resolve()
      .then(() =>
        locks.request(LOCK_PREFIX + this.sessionId, lockOptions, () => {
          if (this.#lockController !== controller || this.#state !== "running") return undefined;
          this.#lockRelease = release;
          this.#lead();
          return held;
        }),
      )
      .catch(() => {
        release();
        if (this.#lockController !== controller || this.#state !== "running") return;
        if (this.#role === "leader") {
          // Another tab stole the lock (it became visible while this one was hidden).
          this.#follow();
        } else {
          // The lock manager refused (opaque origin, ...): poll on our own.
          this.#lockController = null;
          this.#role = "solo";
          this.#poll();
        }
      });
  }

  #lead() {
    this.#role = "leader";
    this.#stealing = false;
    this.#clearWatchdog();
    this.#failures = 0;
    this.#poll();
  }

  #follow() {
    this.#role = "follower";
    this.#stealing = false;
    this.#cancelPolling();
    this.#releaseLock();
    this.#armWatchdog();
    this.#requestLeadership(false);
  }

  #maybeSteal() {
    if (this.#role !== "follower" || this.#stealing || !this.#tab.visible) return;
    const leader = this.#leaderTab;
    // A leader in this very tab shares its visibility: stealing would only ping-pong.
    if (leader === null || leader === this.#tab.id || this.#tab.peerVisible(leader)) return;
    // The leader is hidden, so the browser may throttle its timers: lead from here.
    this.#stealing = true;
    this.#requestLeadership(true);
  }

  #armWatchdog() {
    this.#clearWatchdog();
    const e = env();
    this.#watchdog = e.setTimeout(() => {
      this.#watchdog = null;
      if (this.#role !== "follower" || this.#state !== "running") return;
      // The leader went silent (frozen or broken): take over.
      this.#stealing = true;
      this.#requestLeadership(true);
    }, this.#options.staleTimeout);
  }

  #clearWatchdog() {
    if (this.#watchdog !== null) env().clearTimeout(this.#watchdog);
    this.#watchdog = null;
  }

  #releaseLock() {
    this.#lockRelease?.();
    this.#lockRelease = null;
  }

  // -- polling -----------------------------------------------------------------------

  #polling() {
    return this.#state === "running" && (this.#role === "leader" || this.#role === "solo");
  }

  #baseInterval() {
    return this.#serverInterval ?? this.#options.interval;
  }

  #currentInterval() {
    const base = this.#baseInterval();
    if (this.#tab.anyVisible()) return base;
    return Math.max(base, Math.min(base * HIDDEN_SLOWDOWN, HIDDEN_INTERVAL_CAP));
  }

  async #poll() {
    this.#clearTimer();
    if (!this.#polling()) return;
    const e = env();
    const controller = new AbortController();
    this.#inflight = controller;
    this.#lastAttemptAt = e.now();
    const timeout = e.setTimeout(() => controller.abort(), REQUEST_TIMEOUT);
    const conditional = this.#etag && this.#status ? { "If-None-Match": this.#etag } : {};
    if (this.#capability) conditional[CAPABILITY_HEADER] = this.#capability;
    let outcome;
    try {
      const fetchImpl = fetcher(this.#options);
      const init = { ...requestInit(this.#options, conditional), signal: controller.signal };
      const response = await fetchImpl(sessionUrl(this.#options, this.sessionId, "/status"), init);
      outcome = await readStatusResponse(response);
    } catch {
      outcome = { kind: "transient" };
    } finally {
      e.clearTimeout(timeout);
    }
    if (this.#inflight !== controller) return; // stopped or no longer leading meanwhile
    this.#inflight = null;
    this.#handle(outcome);
  }

  #handle(outcome) {
    this.#answered = true;
    if (outcome.interval) this.#serverInterval = outcome.interval;
    // A fresh capability comes with answers to cookie/token polls (e.g. after one expired).
    if (outcome.capability) this.#capability = outcome.capability;
    if (outcome.kind === "not_found" || outcome.kind === "forbidden") {
      this.#end(outcome.kind, outcome.message, outcome.httpStatus);
      return;
    }
    if (outcome.kind === "status") {
      this.#failures = 0;
      if (outcome.etag) this.#etag = outcome.etag;
      if (this.#acceptStatus(outcome.status)) return;
    } else if (outcome.kind === "unchanged") {
      this.#failures = 0;
    } else {
      this.#failures += 1;
    }
    if (this.#checkStalled()) return;
    this.#share();
    this.#settleStart();
    this.#scheduleNext(outcome.retryAfter ?? 0);
  }

  #checkStalled() {
    const e = env();
    if (e.now() - this.#changedAt < this.#options.staleTimeout) return false;
    const seconds = Math.round(this.#options.staleTimeout / 1000);
    this.#end("stalled", `No progress for ${seconds} seconds.`);
    return true;
  }

  #scheduleNext(retryAfter) {
    const e = env();
    let delay;
    if (this.#failures > 0) {
      const base = this.#baseInterval();
      const cap = Math.min(base * 2 ** this.#failures, Math.max(BACKOFF_CAP, base));
      // "Equal jitter": never shorter than half the cap, so retries really back off.
      delay = Math.max(cap / 2 + e.random() * (cap / 2), retryAfter);
    } else {
      delay = this.#currentInterval();
    }
    // Always try once more when the stall deadline comes, before giving up.
    const untilStall = this.#changedAt + this.#options.staleTimeout - e.now();
    this.#setTimer(Math.max(0, Math.min(delay, untilStall)));
  }

  #setTimer(delay) {
    this.#clearTimer();
    const e = env();
    this.#nextPollAt = e.now() + delay;
    this.#timer = e.setTimeout(() => {
      this.#timer = null;
      this.#poll();
    }, delay);
  }

  #clearTimer() {
    if (this.#timer !== null) env().clearTimeout(this.#timer);
    this.#timer = null;
  }

  #cancelPolling() {
    this.#clearTimer();
    this.#inflight?.abort();
    this.#inflight = null;
  }

  [VISIBILITY]() {
    if (this.#state !== "running") return;
    if (this.#role === "follower") {
      this.#maybeSteal();
      return;
    }
    if (this.#timer === null || this.#failures > 0) return;
    // A tab became visible while polling slowly: poll at the normal pace at once.
    const e = env();
    const due = this.#lastAttemptAt + this.#currentInterval();
    if (due < this.#nextPollAt) this.#setTimer(Math.max(0, due - e.now()));
  }

  // -- shared state --------------------------------------------------------------------

  #share() {
    this.#tab.publish(this, {
      type: "state",
      sessionId: this.sessionId,
      status: this.#status,
      etag: this.#etag,
      capability: this.#capability,
      changedAt: this.#changedAt,
      interval: this.#serverInterval,
    });
  }

  [RECEIVE](message) {
    if (this.#state !== "running") return;
    if (message.type === "hello") {
      // Only a leader that has heard from the server has something to tell.
      if (this.#role === "leader" && this.#answered) this.#share();
      return;
    }
    if (message.type === "end") {
      if (isStatusBody(message.status) && this.#acceptStatus(message.status)) return;
      this.#end(message.kind, message.message, message.httpStatus ?? null);
      return;
    }
    if (message.type !== "state" || this.#role !== "follower") return;
    this.#leaderTab = message.from;
    this.#armWatchdog();
    if (message.etag) this.#etag = message.etag;
    if (typeof message.capability === "string") this.#capability = message.capability;
    if (message.interval) this.#serverInterval = message.interval;
    if (isStatusBody(message.status) && this.#acceptStatus(message.status)) return;
    if (Number.isFinite(message.changedAt)) this.#changedAt = message.changedAt;
    this.#settleStart();
    this.#maybeSteal();
  }

  /** Take a status body; returns true when it ended tracking. */
  #acceptStatus(status) {
    const key = changeKeyOf(status);
    if (key !== this.#changeKey) {
      this.#changeKey = key;
      this.#changedAt = env().now();
    }
    const json = JSON.stringify(status);
    if (json !== this.#statusJson) {
      this.#status = status;
      this.#statusJson = json;
      if (status.status === "processing") remember(this.sessionId, this.#options.baseUrl);
      for (const listener of [...this.#listeners]) safely(listener.onProgress, status);
    }
    if (status.status === "completed") {
      this.#end("completed");
      return true;
    }
    if (status.status === "error") {
      this.#end("failed", status.error || status.message || "Processing failed.");
      return true;
    }
    if (status.status === "cancelled") {
      this.#end("cancelled", status.message || "Processing cancelled.");
      return true;
    }
    return false;
  }

  // -- the end -------------------------------------------------------------------------

  #end(kind, message, httpStatus = null) {
    if (this.#state !== "running") return;
    if (this.#role === "leader") {
      this.#tab.publish(this, {
        type: "end",
        sessionId: this.sessionId,
        kind,
        message,
        httpStatus,
        status: this.#status,
      });
    }
    this.#state = kind === "completed" || kind === "cancelled" ? kind : "failed";
    this.#teardown();
    // A stalled session may still finish: a later page load resumes it (or gets a 404).
    if (kind !== "stalled") forget(this.sessionId);
    this.#settleStart();
    const listeners = [...this.#listeners];
    if (kind === "completed") {
      for (const listener of listeners) safely(listener.onComplete, this.#status);
      return;
    }
    const error = new ProgressTrackingError(kind, message, {
      sessionId: this.sessionId,
      status: this.#status,
      httpStatus,
    });
    for (const listener of listeners) safely(listener.onError, error);
  }

  #teardown() {
    this.#cancelPolling();
    this.#clearWatchdog();
    const controller = this.#lockController;
    this.#lockController = null;
    controller?.abort();
    this.#releaseLock();
    this.#tab?.leave(this);
    this.#role = null;
    this.#leaderTab = null;
    this.#stealing = false;
    if (registry.get(this.sessionId) === this) registry.delete(this.sessionId);
  }

  #settleStart() {
    this.#resolveStart?.(this.#status);
    this.#resolveStart = null;
  }
}

// ---------------------------------------------------------------------------------------
// Functions of the seed, plus resume and discovery

/**
 * Track a session. Tracking the same session again returns the same poller and adds the
 * new callbacks (the options of the first call stay in force).
 */
export function startProgressTracking(sessionId, onComplete, onError, options = {}) {
  const existing = registry.get(String(sessionId));
  if (existing?.running) {
    existing.subscribe({ onComplete, onError, onProgress: options?.onProgress });
    return existing;
  }
  const poller = new ProgressPoller(sessionId, onComplete, onError, options);
  poller.start();
  return poller;
}

/** Stop tracking a session in this page; returns whether it was tracked. */
export function stopProgressTracking(sessionId) {
  const poller = registry.get(String(sessionId));
  if (!poller) return false;
  poller.stop();
  return true;
}

/** The poller tracking a session in this page, if any. */
export function getProgressPoller(sessionId) {
  return registry.get(String(sessionId)) ?? null;
}

/** Track again every unfinished session remembered by this browser (after a reload). */
export function resumeProgressTracking(onComplete, onError, options = {}) {
  return getRememberedSessions(options).map((sessionId) =>
    startProgressTracking(sessionId, onComplete, onError, options),
  );
}

/** The caller's sessions still processing, from `GET {baseUrl}/`. */
export async function listProgressSessions(options = {}) {
  const o = normalizeOptions(options);
  const response = await fetcher(o)(`${o.baseUrl}/`, requestInit(o));
  if (response.status === 401 || response.status === 403) {
    const message = await readDetail(response, "Not allowed to list progress sessions.");
    throw new ProgressTrackingError("forbidden", message, { httpStatus: response.status });
  }
  if (response.status < 200 || response.status >= 300) {
    const message = `Listing progress sessions failed (HTTP ${response.status}).`;
    throw new ProgressTrackingError("unavailable", message, { httpStatus: response.status });
  }
  const body = await response.json();
  return Array.isArray(body?.results) ? body.results.filter(isStatusBody) : [];
}

/**
 * Track every session the server lists as processing for the caller, including work
 * started on another device.
 */
export async function discoverProgressTracking(onComplete, onError, options = {}) {
  const sessions = await listProgressSessions(options);
  return sessions
    .filter((status) => status.status === "processing" && status.session_id)
    .map((status) => startProgressTracking(status.session_id, onComplete, onError, options));
}

function csrfTokenFromCookie() {
  const cookie = env().document?.cookie;
  if (typeof cookie !== "string") return null;
  const match = cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

/**
 * Clear a session on the server (`DELETE {baseUrl}/{sessionId}`) and stop tracking it.
 * Resolves true when cleared, false when the server did not know it.
 */
/** The CSRF header a write needs: the page's token, sent only to this site's own API. */
function csrfHeader(o) {
  const hasCsrf = Object.keys(o.headers).some((name) => name.toLowerCase() === "x-csrftoken");
  const sameOrigin = o.baseUrl === "" || (o.baseUrl.startsWith("/") && !o.baseUrl.startsWith("//"));
  const token = !hasCsrf && sameOrigin ? csrfTokenFromCookie() : null;
  return token ? { "X-CSRFToken": token } : {};
}

export async function clearProgress(sessionId, options = {}) {
  const o = normalizeOptions(options);
  const id = String(sessionId);
  stopProgressTracking(id);
  forget(id);
  const response = await fetcher(o)(sessionUrl(o, id), requestInit(o, csrfHeader(o), "DELETE"));
  if (response.status === 404) return false;
  if (response.status === 401 || response.status === 403) {
    const message = await readDetail(response, "Not allowed to clear this progress session.");
    throw new ProgressTrackingError("forbidden", message, {
      sessionId: id,
      httpStatus: response.status,
    });
  }
  if (response.status < 200 || response.status >= 300) {
    const message = `Clearing progress failed (HTTP ${response.status}).`;
    throw new ProgressTrackingError("unavailable", message, {
      sessionId: id,
      httpStatus: response.status,
    });
  }
  return true;
}

async function postCancel(o, id) {
  const response = await fetcher(o)(
    sessionUrl(o, id, "/cancel"),
    requestInit(o, csrfHeader(o), "POST"),
  );
  if (response.status === 404) {
    const message = await readDetail(response, "Progress session not found.");
    throw new ProgressTrackingError("not_found", message, { sessionId: id, httpStatus: 404 });
  }
  if (response.status === 401 || response.status === 403) {
    const message = await readDetail(response, "Not allowed to cancel this progress session.");
    throw new ProgressTrackingError("forbidden", message, {
      sessionId: id,
      httpStatus: response.status,
    });
  }
  let body = null;
  if (response.status >= 200 && response.status < 300) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (!isStatusBody(body)) {
    const message = `Cancelling progress failed (HTTP ${response.status}).`;
    throw new ProgressTrackingError("unavailable", message, {
      sessionId: id,
      httpStatus: response.status,
    });
  }
  return body;
}

/**
 * Cancel a session on the server (`POST {baseUrl}/{sessionId}/cancel`, with the page's CSRF
 * token); resolves with the status body it answers (`status` is `cancelled`, or how the work
 * had already ended). A poller tracking the session in this page ends with that status.
 */
export async function cancelProgress(sessionId, options = {}) {
  const id = String(sessionId);
  const status = await postCancel(normalizeOptions(options), id);
  registry.get(id)?.[ACCEPT](status);
  return status;
}
