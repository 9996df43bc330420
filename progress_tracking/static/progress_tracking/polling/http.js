/**
 * Requests to the progress API and what their answers mean: the status poll (ETag, the
 * read capability, X-Poll-Interval, Retry-After), the list, cancel and clear (with the
 * page's CSRF token). Every function takes options already normalized (options.js).
 */
import {
  BACKOFF_CAP,
  CAPABILITY_HEADER,
  MAX_SERVER_INTERVAL,
  MIN_SERVER_INTERVAL,
} from "./constants.js";
import { env } from "./environment.js";
import { ProgressTrackingError } from "./errors.js";

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

/** Whether a value looks like a status body (an object with a string `status`). */
export function isStatusBody(body) {
  return body !== null && typeof body === "object" && typeof body.status === "string";
}

/**
 * What a status answer means for the poller: `{ kind, ... }` with kind `status` (a new
 * body), `unchanged` (304), `not_found`, `forbidden` or `transient` (retry later).
 */
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

/**
 * `GET {baseUrl}/{sessionId}/status`, conditional on `etag`, with the read capability in
 * its header (never in the URL). Resolves with `readStatusResponse`'s outcome; rejects when
 * the request itself fails (network, abort through `signal`).
 */
export async function requestStatus(
  options,
  sessionId,
  { etag = null, capability = null, signal } = {},
) {
  const conditional = etag ? { "If-None-Match": etag } : {};
  if (capability) conditional[CAPABILITY_HEADER] = capability;
  const fetchImpl = fetcher(options);
  const init = { ...requestInit(options, conditional), signal };
  const response = await fetchImpl(sessionUrl(options, sessionId, "/status"), init);
  return readStatusResponse(response);
}

/** `GET {baseUrl}/`: the caller's sessions still processing. */
export async function requestSessionList(options) {
  const response = await fetcher(options)(`${options.baseUrl}/`, requestInit(options));
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

function csrfTokenFromCookie() {
  const cookie = env().document?.cookie;
  if (typeof cookie !== "string") return null;
  const match = cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

/** The CSRF header a write needs: the page's token, sent only to this site's own API. */
function csrfHeader(o) {
  const hasCsrf = Object.keys(o.headers).some((name) => name.toLowerCase() === "x-csrftoken");
  const sameOrigin = o.baseUrl === "" || (o.baseUrl.startsWith("/") && !o.baseUrl.startsWith("//"));
  const token = !hasCsrf && sameOrigin ? csrfTokenFromCookie() : null;
  return token ? { "X-CSRFToken": token } : {};
}

/** `DELETE {baseUrl}/{id}`: true when cleared, false when the server did not know it. */
export async function requestClear(o, id) {
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

/** `POST {baseUrl}/{id}/cancel`: resolves with the status body the server answers. */
export async function requestCancel(o, id) {
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
