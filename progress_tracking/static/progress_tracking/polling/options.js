/** The caller's options, checked once: what is missing or unusable falls back to the defaults. */
import { DEFAULTS } from "./constants.js";

/** Where the API is mounted, without trailing slash. */
export function normalizeBaseUrl(baseUrl) {
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

/** The options every other module takes: numbers, a plain headers object, nulls. */
export function normalizeOptions(options) {
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
