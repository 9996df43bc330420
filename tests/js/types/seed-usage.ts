// The seed's "Frontend Usage" examples, verbatim except for the import path (the Django
// static file), type-checked against polling.d.ts by `tsc --noEmit`.
import {
  ProgressPoller,
  startProgressTracking,
  stopProgressTracking,
} from "../../../progress_tracking/static/progress_tracking/polling.js";
import type {
  OnComplete,
  OnError,
  ProgressStatus,
  ProgressTrackingError,
} from "../../../progress_tracking/static/progress_tracking/polling.js";

declare const sessionId: string;
declare const onComplete: OnComplete;
declare const onError: OnError;

// ### Starting Progress Tracking
export function startingProgressTracking(): ProgressPoller {
  const poller = startProgressTracking(sessionId, () => {
    // Called when processing completes
    console.log("Processing completed");
  }, (error) => {
    // Called when processing fails
    console.error("Processing failed:", error);
  });
  return poller;
}

// ### Manual Polling
export async function manualPolling(): Promise<void> {
  const poller = new ProgressPoller(sessionId, onComplete, onError);
  await poller.start();
}

// ### Stopping Progress Tracking
export function stoppingProgressTracking(): void {
  stopProgressTracking(sessionId);
}

// The callbacks receive what the contract says they receive.
export function callbackTypes(): void {
  startProgressTracking(
    sessionId,
    (status: ProgressStatus) => {
      const percent: number = status.progress;
      const files: string[] = status.files.map((file) => `${file.name}: ${file.status}`);
      // The seed's client seeds its per-file list from the names of all files.
      const names: string[] = status.file_list;
      console.log(names.length);
      console.log(percent, files, status.error?.toUpperCase());
    },
    (error: ProgressTrackingError) => {
      const kind: "failed" | "cancelled" | "not_found" | "forbidden" | "stalled" | "unavailable" =
        error.kind;
      console.log(kind, error.message, error.status?.progress);
    },
    {
      interval: 1000,
      staleTimeout: 60000,
      onProgress: (status) => console.log(status.processed_files, status.total_files),
      baseUrl: "/api/v1/progress",
      headers: { "X-CSRFToken": "token", Authorization: "Token abc" },
      fetch: (input, init) => fetch(input, init),
    },
  );
}
