/**
 * Browser poller for django-progress-tracking.
 *
 * A dependency-free ES module: a page imports `startProgressTracking` and the rest below
 * from the static URL of this file, no build step (docs/frontend.md shows how).
 *
 * One poller per session and page. Tabs of the same site elect one leader per session
 * (Web Locks) and share every status over a BroadcastChannel, so requests to the server do
 * not grow with the number of open tabs. Without those APIs every tab polls on its own.
 *
 * This file is the public entry point (typed by polling.d.ts); the work is done by the
 * modules in polling/, one job each, which it imports relatively.
 */
import { replaceEnvironment } from "./polling/environment.js";
import { closeTab } from "./polling/tabs.js";

export { CAPABILITY_HEADER } from "./polling/constants.js";
export {
  discoverProgressTracking,
  getRememberedSessions,
  listProgressSessions,
  resumeProgressTracking,
} from "./polling/discovery.js";
export { ProgressTrackingError } from "./polling/errors.js";
export {
  cancelProgress,
  clearProgress,
  getProgressPoller,
  ProgressPoller,
  startProgressTracking,
  stopProgressTracking,
} from "./polling/poller.js";

/**
 * Replace parts of the browser environment (storage, BroadcastChannel, locks, document,
 * window, fetch, timers, clock, random). Meant for tests and non-browser hosts; call it
 * before tracking starts.
 */
export function configureEnvironment(overrides = {}) {
  closeTab();
  replaceEnvironment(overrides);
}
