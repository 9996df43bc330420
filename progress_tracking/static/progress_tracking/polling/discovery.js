/**
 * Finding the sessions to track: those this browser remembers (resume after a reload) and
 * those the server lists as processing for the caller (work started on another device).
 */
import { requestSessionList } from "./http.js";
import { normalizeBaseUrl, normalizeOptions } from "./options.js";
import { startProgressTracking } from "./poller.js";
import { rememberedFor } from "./remembered.js";

/** Ids of the unfinished sessions this browser remembers for `options.baseUrl`. */
export function getRememberedSessions(options = {}) {
  return rememberedFor(normalizeBaseUrl(options?.baseUrl));
}

/** Track again every unfinished session remembered by this browser (after a reload). */
export function resumeProgressTracking(onComplete, onError, options = {}) {
  return getRememberedSessions(options).map((sessionId) =>
    startProgressTracking(sessionId, onComplete, onError, options),
  );
}

/** The caller's sessions still processing, from `GET {baseUrl}/`. */
export async function listProgressSessions(options = {}) {
  return requestSessionList(normalizeOptions(options));
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
