/**
 * Values shared by the modules of polling.js and by progress_bar.js, each defined once.
 * Nothing here touches the browser.
 */

/** Session states after which a session never changes again (Python: `FINAL_STATUSES`). */
export const FINAL_STATES = Object.freeze(["completed", "error", "cancelled"]);

/**
 * Header of the signed read capability. The server hands one out on status responses (and
 * pages can pass one in `options.capability`); sent back, it lets the server answer a poll
 * without looking up the caller's session or user. Never put in a URL.
 */
export const CAPABILITY_HEADER = "X-Progress-Capability";

/** What a poller uses where its options say nothing. */
export const DEFAULTS = Object.freeze({
  interval: 1000,
  staleTimeout: 60000,
  baseUrl: "/api/v1/progress",
});

// Polling rhythm (milliseconds).
export const HIDDEN_SLOWDOWN = 5;
export const HIDDEN_INTERVAL_CAP = 30000;
export const BACKOFF_CAP = 30000;
export const REQUEST_TIMEOUT = 30000;
export const MIN_SERVER_INTERVAL = 100;
export const MAX_SERVER_INTERVAL = 60000;

// Visibility shared between tabs (milliseconds).
export const VISIBILITY_HEARTBEAT = 5000;
export const VISIBILITY_TTL = 12000;

// Names in the browser: the localStorage key, the BroadcastChannel and the Web Locks.
export const STORAGE_KEY = "progress-tracking:sessions";
export const STORAGE_LIMIT = 50;
export const CHANNEL_NAME = "progress-tracking";
export const LOCK_PREFIX = "progress-tracking:session:";
