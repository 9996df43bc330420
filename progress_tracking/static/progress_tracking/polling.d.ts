// Type declarations for polling.js (django-progress-tracking's browser poller).

/** Request and response header of the signed read capability. */
export declare const CAPABILITY_HEADER: "X-Progress-Capability";

/** State of a whole session. `completed`, `error` and `cancelled` are final. */
export type ProgressState = "processing" | "completed" | "error" | "cancelled";

/** State of one file of a session; `cancelled` only in a cancelled session. */
export type ProgressFileState = "pending" | "processing" | "completed" | "error" | "cancelled";

/** One entry of `ProgressStatus.files`. */
export interface ProgressFile {
  name: string;
  status: ProgressFileState;
  progress: number;
  message: string;
  error: string | null;
}

/** Body of `GET {baseUrl}/{sessionId}/status`. */
export interface ProgressStatus {
  session_id: string;
  status: ProgressState;
  /** 0–100. */
  progress: number;
  message: string;
  total_files: number;
  processed_files: number;
  current_file: string | null;
  /** Unix seconds. */
  last_updated: number;
  /** The failure text when `status` is `error`, otherwise null. */
  error: string | null;
  failed_files: number;
  /** At most `FILES_LIMIT` entries: errors first, then in progress, then the rest. */
  files: ProgressFile[];
  /** How many files the session has, listed or not. */
  files_total: number;
  /** Names of the session's files in the order they were added, at most `FILES_LIMIT`. */
  file_list: string[];
  /** Unix seconds. */
  started_at: number | null;
  /** Unix seconds; null until the session is final. */
  finished_at: number | null;
  /** Grows with every change. */
  version: number;
  /** Primary key (as a string) of the row the session belongs to. */
  object_id: string | null;
  /** Seconds since `started_at` (to `finished_at` once final); 0 when unknown. */
  elapsed_seconds: number;
  /** Estimated seconds left at the recent pace; null while unknown or stalled, 0 once completed. */
  eta_seconds: number | null;
  [extension: string]: unknown;
}

/**
 * Why tracking ended with an error:
 * - `failed`: the server reports `status: "error"`; the message is the server's `error` text.
 * - `cancelled`: the server reports `status: "cancelled"` (someone cancelled the session, in
 *   this page or elsewhere); the message is the server's `message`, `error.status` the body.
 * - `not_found`: 404, the session is unknown, expired, cleared or someone else's.
 * - `forbidden`: 401 or 403, not authenticated or not allowed.
 * - `stalled`: no change for `staleTimeout` milliseconds (network errors included).
 * - `unavailable`: only from `listProgressSessions`, `clearProgress`, `cancelProgress` and
 *   `poller.cancel()` (other HTTP errors).
 */
export type ProgressErrorKind =
  | "failed"
  | "cancelled"
  | "not_found"
  | "forbidden"
  | "stalled"
  | "unavailable";

export class ProgressTrackingError extends Error {
  constructor(
    kind: ProgressErrorKind,
    message: string,
    details?: { sessionId?: string | null; status?: ProgressStatus | null; httpStatus?: number | null },
  );
  readonly name: "ProgressTrackingError";
  readonly kind: ProgressErrorKind;
  readonly sessionId: string | null;
  /** The last status received before the error, if any. */
  readonly status: ProgressStatus | null;
  /** The HTTP status for `not_found`, `forbidden` and `unavailable`. */
  readonly httpStatus: number | null;
}

export type OnComplete = (status: ProgressStatus) => void;
export type OnError = (error: ProgressTrackingError) => void;
export type OnProgress = (status: ProgressStatus) => void;

/** A fetch-compatible function (`window.fetch` or a test double). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ProgressOptions {
  /** Milliseconds between polls; the server's `X-Poll-Interval` wins. Default 1000. */
  interval?: number;
  /** Milliseconds without a change before tracking ends as `stalled`. Default 60000. */
  staleTimeout?: number;
  /** Called with each status that differs from the previous one. */
  onProgress?: OnProgress;
  /** Where the API is mounted, without trailing slash. Default "/api/v1/progress". */
  baseUrl?: string;
  /** Extra request headers, e.g. `{ Authorization: "Token …" }` or `{ "X-CSRFToken": … }`. */
  headers?: Record<string, string> | Headers | Array<[string, string]>;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * A signed read capability for this session (from `{% progress_bar %}`'s
   * `data-capability` or an upload response's `X-Progress-Capability` header). Optional:
   * the poller also picks one up from the status responses by itself.
   */
  capability?: string;
}

export interface ProgressCallbacks {
  onComplete?: OnComplete;
  onError?: OnError;
  onProgress?: OnProgress;
}

export class ProgressPoller {
  constructor(
    sessionId: string,
    onComplete?: OnComplete,
    onError?: OnError,
    options?: ProgressOptions,
  );
  readonly sessionId: string;
  /** The latest status received, or null. */
  readonly status: ProgressStatus | null;
  /** True between `start()` and the end of tracking. */
  readonly running: boolean;
  /** `solo` polls alone, `leader` polls for every tab, `follower` listens to the leader. */
  readonly role: "solo" | "leader" | "follower" | null;
  readonly baseUrl: string;
  /** Resolves after the first response with the first status (null if there was none). */
  start(): Promise<ProgressStatus | null>;
  /** Stop tracking in this page and forget the session. Never sends DELETE. */
  stop(): void;
  /** Add callbacks; returns a function that removes them. */
  subscribe(callbacks: ProgressCallbacks): () => void;
  /**
   * `POST {baseUrl}/{sessionId}/cancel`; resolves with the answered status body. Tracking
   * then ends through `onError` (kind `cancelled`), or as the work had already ended.
   */
  cancel(): Promise<ProgressStatus>;
}

/** Start tracking, or join the poller already tracking this session in this page. */
export function startProgressTracking(
  sessionId: string,
  onComplete?: OnComplete,
  onError?: OnError,
  options?: ProgressOptions,
): ProgressPoller;

/** Stop tracking a session in this page; false if it was not tracked. */
export function stopProgressTracking(sessionId: string): boolean;

/** The poller tracking a session in this page, if any. */
export function getProgressPoller(sessionId: string): ProgressPoller | null;

/** Track every unfinished session this browser remembers (after a reload or navigation). */
export function resumeProgressTracking(
  onComplete?: OnComplete,
  onError?: OnError,
  options?: ProgressOptions,
): ProgressPoller[];

/** Track every session the server lists as processing for the current user. */
export function discoverProgressTracking(
  onComplete?: OnComplete,
  onError?: OnError,
  options?: ProgressOptions,
): Promise<ProgressPoller[]>;

/** `GET {baseUrl}/`: the current user's sessions still processing. */
export function listProgressSessions(
  options?: Pick<ProgressOptions, "baseUrl" | "headers" | "fetch">,
): Promise<ProgressStatus[]>;

/** `DELETE {baseUrl}/{sessionId}` and stop tracking it; false when the server did not know it. */
export function clearProgress(
  sessionId: string,
  options?: Pick<ProgressOptions, "baseUrl" | "headers" | "fetch">,
): Promise<boolean>;

/**
 * `POST {baseUrl}/{sessionId}/cancel` (with the page's CSRF token); resolves with the answered
 * status body. A poller tracking the session in this page ends with it.
 */
export function cancelProgress(
  sessionId: string,
  options?: Pick<ProgressOptions, "baseUrl" | "headers" | "fetch">,
): Promise<ProgressStatus>;

/** Ids of the unfinished sessions remembered in this browser for `options.baseUrl`. */
export function getRememberedSessions(options?: Pick<ProgressOptions, "baseUrl">): string[];

/** What `configureEnvironment` can replace. */
export interface ProgressEnvironment {
  fetch: FetchLike | null;
  storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  BroadcastChannel: { new (name: string): BroadcastChannel } | null;
  locks: Pick<LockManager, "request"> | null;
  document:
    | (Pick<Document, "visibilityState" | "addEventListener" | "removeEventListener"> &
        Partial<Pick<Document, "cookie">>)
    | null;
  window: Pick<Window, "addEventListener" | "removeEventListener"> | null;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  random(): number;
}

/** Replace parts of the browser environment (tests, non-browser hosts). Call before tracking. */
export function configureEnvironment(overrides?: Partial<ProgressEnvironment>): void;
