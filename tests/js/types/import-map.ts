// The import through an alias, as documented in docs/frontend.md: an import map in the page
// ({"imports": {"progress-tracking/": "/static/progress_tracking/"}}) and `paths` for tsc.
import { startProgressTracking, type ProgressStatus } from "progress-tracking/polling.js";

export function viaAlias(sessionId: string): void {
  startProgressTracking(sessionId, (status: ProgressStatus) => console.log(status.progress));
}
