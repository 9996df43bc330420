/**
 * Sessions remembered across page loads (localStorage), for auto-resume: each with the
 * API it belongs to (a normalized base URL) and when it was first remembered.
 */
import { STORAGE_KEY, STORAGE_LIMIT } from "./constants.js";
import { env } from "./environment.js";

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

/** Remember a session being tracked (kept as it is when already remembered for `baseUrl`). */
export function remember(sessionId, baseUrl) {
  const sessions = readRemembered();
  if (sessions[sessionId]?.baseUrl === baseUrl) return;
  sessions[sessionId] = { baseUrl, since: env().now() };
  writeRemembered(sessions);
}

/** Forget a session: it ended, was stopped or cleared. */
export function forget(sessionId) {
  const sessions = readRemembered();
  if (!(sessionId in sessions)) return;
  delete sessions[sessionId];
  writeRemembered(sessions);
}

/** Ids of the sessions remembered for `baseUrl` (normalized), oldest first. */
export function rememberedFor(baseUrl) {
  return Object.entries(readRemembered())
    .filter(([, entry]) => entry?.baseUrl === baseUrl)
    .sort(([, a], [, b]) => (a.since ?? 0) - (b.since ?? 0))
    .map(([sessionId]) => sessionId);
}
