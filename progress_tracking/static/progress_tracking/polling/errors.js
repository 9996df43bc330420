/** The error tracking ends with, and how an error thrown by a callback is reported. */

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

/** Report an error nobody can handle, the way the browser reports an uncaught one. */
export function report(error) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else globalThis.console?.error?.(error);
}

/** Call a callback, if any; what it throws is reported, never thrown on. */
export function safely(callback, value) {
  if (typeof callback !== "function") return;
  try {
    callback(value);
  } catch (error) {
    // A throwing callback must not stop the poller or the other callbacks.
    report(error);
  }
}
