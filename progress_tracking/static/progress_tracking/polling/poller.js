/**
 * The poller: one per session and page, polling alone ("solo"), for every tab ("leader")
 * or listening to the tab that does ("follower"). Also the page's registry of pollers and
 * the public functions that act on it.
 */
import {
  BACKOFF_CAP,
  HIDDEN_INTERVAL_CAP,
  HIDDEN_SLOWDOWN,
  REQUEST_TIMEOUT,
} from "./constants.js";
import { env } from "./environment.js";
import { ProgressTrackingError, safely } from "./errors.js";
import { isStatusBody, requestCancel, requestClear, requestStatus } from "./http.js";
import { normalizeOptions } from "./options.js";
import { forget, remember } from "./remembered.js";
import { currentTab, RECEIVE, VISIBILITY } from "./tabs.js";

// How cancelProgress() hands the answered status to the page's poller of that session.
const ACCEPT = Symbol("accept");

const registry = new Map(); // sessionId -> the active poller started first in this page

function changeKeyOf(status) {
  return `${status.version ?? ""}|${status.last_updated ?? ""}`;
}

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
    const status = await requestCancel(this.#options, this.sessionId);
    this[ACCEPT](status);
    return status;
  }

  [ACCEPT](status) {
    if (this.#state === "running" && isStatusBody(status)) this.#acceptStatus(status);
  }

  // -- leadership --------------------------------------------------------------------

  #requestLeadership(steal) {
    const previous = this.#lockController;
    const controller = new AbortController();
    this.#lockController = controller;
    previous?.abort();
    const current = () => this.#lockController === controller && this.#state === "running";
    this.#tab.requestLeadership(
      this.sessionId,
      { steal, signal: controller.signal },
      (release) => {
        if (!current()) return false;
        this.#lockRelease = release;
        this.#lead();
        return true;
      },
      () => {
        if (!current()) return;
        if (this.#role === "leader") {
          // Another tab stole the lock (it became visible while this one was hidden).
          this.#follow();
        } else {
          // The lock manager refused (opaque origin, ...): poll on our own.
          this.#lockController = null;
          this.#role = "solo";
          this.#poll();
        }
      },
    );
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
    let outcome;
    try {
      outcome = await requestStatus(this.#options, this.sessionId, {
        // Conditional only once there is a status to fall back on when the answer is 304.
        etag: this.#status ? this.#etag : null,
        capability: this.#capability,
        signal: controller.signal,
      });
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

/**
 * Clear a session on the server (`DELETE {baseUrl}/{sessionId}`) and stop tracking it.
 * Resolves true when cleared, false when the server did not know it.
 */
export async function clearProgress(sessionId, options = {}) {
  const o = normalizeOptions(options);
  const id = String(sessionId);
  stopProgressTracking(id);
  forget(id);
  return requestClear(o, id);
}

/**
 * Cancel a session on the server (`POST {baseUrl}/{sessionId}/cancel`, with the page's CSRF
 * token); resolves with the status body it answers (`status` is `cancelled`, or how the work
 * had already ended). A poller tracking the session in this page ends with that status.
 */
export async function cancelProgress(sessionId, options = {}) {
  const id = String(sessionId);
  const status = await requestCancel(normalizeOptions(options), id);
  registry.get(id)?.[ACCEPT](status);
  return status;
}
