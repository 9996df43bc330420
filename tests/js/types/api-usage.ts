// The rest of the public API, and misuse that must not type-check.
import {
  cancelProgress,
  clearProgress,
  configureEnvironment,
  discoverProgressTracking,
  getProgressPoller,
  getRememberedSessions,
  listProgressSessions,
  ProgressPoller,
  type ProgressState,
  type ProgressStatus,
  ProgressTrackingError,
  resumeProgressTracking,
  startProgressTracking,
  stopProgressTracking,
} from "../../../progress_tracking/static/progress_tracking/polling.js";

export async function resumeAndDiscover(): Promise<number> {
  const resumed: ProgressPoller[] = resumeProgressTracking(undefined, (error) => {
    console.log(error.sessionId, error.kind);
  });
  const discovered: ProgressPoller[] = await discoverProgressTracking(undefined, undefined, {
    headers: new Headers({ Authorization: "Token abc" }),
  });
  const listed = await listProgressSessions({ baseUrl: "/progress" });
  const cleared: boolean = await clearProgress("id", { headers: [["X-CSRFToken", "t"]] });
  const remembered: string[] = getRememberedSessions();
  const found: ProgressPoller | null = getProgressPoller("id");
  const stopped: boolean = stopProgressTracking("id");
  const unsubscribe: () => void = resumed[0]!.subscribe({ onProgress: (s) => s.progress });
  unsubscribe();
  return discovered.length + listed.length + remembered.length + Number(cleared && stopped) +
    Number(found?.running);
}

export async function cancelling(poller: ProgressPoller): Promise<string> {
  const answered: ProgressStatus = await poller.cancel();
  const other = await cancelProgress("id", { baseUrl: "/progress" });
  const states: ProgressState[] = [answered.status, other.status];
  // A cancelled session ends tracking through onError, with its own kind.
  startProgressTracking("id", undefined, (error) => {
    if (error.kind === "cancelled") console.log(error.status?.status === "cancelled");
  });
  return states.join();
}

export function errors(error: unknown): string | null {
  if (error instanceof ProgressTrackingError && error.kind === "not_found") return error.message;
  return null;
}

export function environment(): void {
  configureEnvironment({ now: () => 0, random: () => 0.5, storage: null, locks: null });
}

export function misuse(): void {
  // @ts-expect-error the session id is required
  startProgressTracking();
  // @ts-expect-error interval is a number of milliseconds
  startProgressTracking("id", undefined, undefined, { interval: "1s" });
  // @ts-expect-error unknown option
  startProgressTracking("id", undefined, undefined, { pollEvery: 1000 });
  // @ts-expect-error onComplete gets a status, not an error
  startProgressTracking("id", (status: ProgressTrackingError) => status);
  const poller = new ProgressPoller("id");
  // @ts-expect-error status is read-only
  poller.status = null;
}
