/**
 * Wires the server-rendered `{% progress_bar %}` partials to polling.js.
 *
 * Loaded with `{% progress_tracking_assets %}` (a module script): on DOMContentLoaded it
 * attaches every `[data-progress-tracking]` element. Call `attachProgressBar(element)` for
 * bars added later. Each bar dispatches `progress-tracking:progress`, `:complete` and
 * `:error` CustomEvents (they bubble) so pages can react without a framework; a cancelled
 * session ends with `:error` whose `detail.kind` is `cancelled`.
 *
 * The bar's Cancel button (`[data-progress-tracking-cancel]`, shown while the work runs)
 * asks for confirmation, then cancels the session; `data-cancel="false"` on the bar turns it
 * off, `data-cancel-confirm="false"` skips the question.
 */
import {
  cancelProgress,
  getRememberedSessions,
  listProgressSessions,
  startProgressTracking,
} from "./polling.js";
import { FINAL_STATES } from "./polling/constants.js";

export const SELECTOR = "[data-progress-tracking]";
export const EVENTS = Object.freeze({
  progress: "progress-tracking:progress",
  complete: "progress-tracking:complete",
  error: "progress-tracking:error",
});

const ANNOUNCE_EVERY = 5000;
const controllers = new WeakMap();

// Django's JavaScript catalog (JavaScriptCatalog view) defines these globals when mounted.
function gettext(msgid) {
  const translate = globalThis.gettext;
  return typeof translate === "function" ? translate(msgid) : msgid;
}

function ngettext(singular, plural, count) {
  const translate = globalThis.ngettext;
  if (typeof translate === "function") return translate(singular, plural, count);
  return count === 1 ? singular : plural;
}

function interpolate(format, values) {
  const django = globalThis.interpolate;
  if (typeof django === "function") return django(format, values, true);
  return format.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
}

function fileStateLabel(state) {
  switch (state) {
    case "pending":
      return gettext("Pending");
    case "processing":
      return gettext("Processing");
    case "completed":
      return gettext("Completed");
    case "error":
      return gettext("Error");
    case "cancelled":
      return gettext("Cancelled");
    default:
      return String(state ?? "");
  }
}

/** 0–100, rounded, whatever the server sent. */
export function percentOf(status) {
  const value = Number(status?.progress);
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)));
}

/** The text a screen reader reads for the bar's value: "3 of 10 files (45%)" or "45%". */
export function valueTextOf(status) {
  const percent = `${percentOf(status)}%`;
  const total = Number(status?.total_files);
  if (!Number.isInteger(total) || total <= 0) return percent;
  const format = ngettext(
    "%(processed)s of %(total)s file (%(percent)s)",
    "%(processed)s of %(total)s files (%(percent)s)",
    total,
  );
  return interpolate(format, { processed: Number(status.processed_files) || 0, total, percent });
}

function messageOf(status) {
  if (status.status === "completed") return status.message || gettext("Processing complete.");
  if (status.status === "error") {
    return interpolate(gettext("Processing failed: %(error)s"), {
      error: status.error || status.message || gettext("unknown error"),
    });
  }
  if (status.status === "cancelled") return gettext("Processing cancelled.");
  return status.message || gettext("Processing…");
}

function errorMessageOf(error) {
  switch (error?.kind) {
    case "failed":
      return interpolate(gettext("Processing failed: %(error)s"), { error: error.message });
    case "cancelled":
      return gettext("Processing cancelled.");
    case "not_found":
      return gettext("Progress stopped being reported: the work was interrupted or cleared.");
    case "forbidden":
      return gettext("You are not allowed to see this progress.");
    case "stalled":
      return gettext("No progress for a while: the work may have stopped.");
    default:
      return gettext("Progress could not be loaded.");
  }
}

/**
 * The coarse step shown for `seconds` left: under 45 s "less than a minute"; then whole
 * minutes up to 10, 5-minute steps up to an hour, whole hours beyond. `seconds` is the
 * step's nominal value, used to decide whether a new estimate is worth showing.
 */
export function timeLeftStep(eta) {
  const value = Number(eta);
  if (eta === null || eta === undefined || !Number.isFinite(value) || value < 0) return null;
  if (value < 45) return { unit: "less", count: 0, seconds: 30 };
  const minutes = value / 60;
  if (minutes < 10.5) {
    const count = Math.max(1, Math.round(minutes));
    return { unit: "minute", count, seconds: count * 60 };
  }
  if (minutes < 57.5) {
    const count = Math.round(minutes / 5) * 5;
    return { unit: "minute", count, seconds: count * 60 };
  }
  const count = Math.max(1, Math.round(minutes / 60));
  return { unit: "hour", count, seconds: count * 3600 };
}

/**
 * The step to show now: the one shown stays while the new estimate is within a quarter of it
 * (plus 15 s), so the text does not flicker from poll to poll; null hides it.
 */
export function nextTimeLeft(shown, eta) {
  const step = timeLeftStep(eta);
  if (step === null || shown === null || shown === undefined) return step;
  const tolerance = shown.seconds * 0.25 + 15;
  return Math.abs(Number(eta) - shown.seconds) <= tolerance ? shown : step;
}

/** "about 2 minutes left", localised through Django's JavaScript catalog. */
export function timeLeftText(step) {
  if (step === null || step === undefined) return "";
  if (step.unit === "less") return gettext("less than a minute left");
  const format =
    step.unit === "hour"
      ? ngettext("about %(count)s hour left", "about %(count)s hours left", step.count)
      : ngettext("about %(count)s minute left", "about %(count)s minutes left", step.count);
  return interpolate(format, { count: step.count });
}

function renderTimeLeft(element, shown, eta) {
  const step = nextTimeLeft(shown, eta);
  const node = part(element, "eta");
  if (node) {
    setText(node, timeLeftText(step));
    node.hidden = step === null;
  }
  return step;
}

function part(element, name) {
  return element.querySelector(`[data-progress-tracking-${name}]`);
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

function sameFiles(a, b) {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/**
 * Update a bar's DOM from a status body: ARIA value, fill, percentage, message and files.
 * Needs nothing but the partial's markup, so pages can call it with their own statuses.
 */
export function renderStatus(element, status, { state = status.status } = {}) {
  const percent = percentOf(status);
  const bar = part(element, "bar");
  if (bar) {
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", valueTextOf(status));
    if (FINAL_STATES.includes(state)) bar.removeAttribute("aria-busy");
    else bar.setAttribute("aria-busy", "true");
  }
  element.style?.setProperty?.("--progress-tracking-value", `${percent}%`);
  element.setAttribute("data-state", state);
  element.setAttribute("data-progress", String(percent));
  setText(part(element, "percent"), `${percent}%`);
  setText(part(element, "message"), messageOf(status));
  renderFiles(part(element, "files"), status);
  element.hidden = false;
}

function renderFiles(list, status) {
  if (!list || !Array.isArray(status.files)) return;
  if (list.lastFiles !== undefined && sameFiles(list.lastFiles, status.files)) return;
  list.lastFiles = status.files;
  const document = list.ownerDocument;
  const rows = status.files.map((file) => {
    const row = document.createElement("li");
    row.className = "progress-tracking__file";
    row.setAttribute("data-file-status", String(file.status ?? ""));
    const name = document.createElement("span");
    name.className = "progress-tracking__file-name";
    name.textContent = String(file.name ?? "");
    const state = document.createElement("span");
    state.className = "progress-tracking__file-status";
    state.textContent = fileStateLabel(file.status);
    row.append(name, " ", state);
    if (file.error) {
      const error = document.createElement("span");
      error.className = "progress-tracking__file-error";
      error.textContent = String(file.error);
      row.append(" ", error);
    }
    return row;
  });
  const hiddenCount = Number(status.files_total) - status.files.length;
  if (Number.isInteger(hiddenCount) && hiddenCount > 0) {
    const more = document.createElement("li");
    more.className = "progress-tracking__file progress-tracking__file--more";
    more.textContent = interpolate(
      ngettext("and %(count)s more file", "and %(count)s more files", hiddenCount),
      { count: hiddenCount },
    );
    rows.push(more);
  }
  list.replaceChildren(...rows);
  list.hidden = rows.length === 0;
}

function initialStatus(element) {
  const state = element.getAttribute("data-status") || "processing";
  return {
    status: state,
    progress: Number(element.getAttribute("data-progress")) || 0,
  };
}

function browserConfirm(text) {
  return typeof globalThis.confirm === "function" ? globalThis.confirm(text) : true;
}

class ProgressBarController {
  constructor(element, options) {
    const {
      now,
      setTimeout: setTimer,
      clearTimeout: clearTimer,
      confirm,
      ...pollerOptions
    } = options;
    this.element = element;
    this.confirm = confirm ?? browserConfirm;
    // The highest overall progress shown so far: the bar never moves back (see steady()).
    this.highest = 0;
    this.cancelButton = null;
    this.cancelLabel = "";
    this.onCancelClick = () => this.requestCancel();
    this.now = now ?? (() => Date.now());
    this.setTimer = setTimer ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = clearTimer ?? ((id) => globalThis.clearTimeout(id));
    this.sessionId = element.getAttribute("data-session-id") || "";
    const interval = Number(element.getAttribute("data-interval"));
    const baseUrl = element.getAttribute("data-base-url");
    const capability = element.getAttribute("data-capability");
    this.pollerOptions = {
      ...(baseUrl !== null ? { baseUrl } : {}),
      ...(capability ? { capability } : {}),
      ...(interval > 0 ? { interval } : {}),
      ...pollerOptions,
    };
    this.live = part(element, "live");
    this.lastAnnounced = this.live?.textContent ?? "";
    this.lastAnnouncedAt = this.now();
    this.pendingText = null;
    this.pendingTimer = null;
    this.poller = null;
    this.unsubscribe = null;
    this.timeLeft = null;
  }

  start() {
    // The server-rendered value; set from here so no inline style is needed (CSP).
    const initial = initialStatus(this.element);
    this.element.style?.setProperty?.("--progress-tracking-value", `${percentOf(initial)}%`);
    this.highest = initial.progress;
    this.setUpCancel(initial.status);
    if (!this.sessionId) return;
    // A session already finished when the page was rendered shows its final state as is.
    if (FINAL_STATES.includes(initial.status)) return;
    this.poller = startProgressTracking(this.sessionId, undefined, undefined, this.pollerOptions);
    this.unsubscribe = this.poller.subscribe({
      onProgress: (status) => this.progress(status),
      onComplete: (status) => this.complete(status),
      onError: (error) => this.fail(error),
    });
  }

  /** The Cancel button: shown while the session runs, unless the host turned it off. */
  setUpCancel(state) {
    const button = part(this.element, "cancel");
    if (!button) return;
    if (!this.sessionId || this.element.getAttribute("data-cancel") === "false") {
      button.hidden = true;
      return;
    }
    this.cancelButton = button;
    this.cancelLabel = button.textContent;
    button.hidden = FINAL_STATES.includes(state);
    button.addEventListener("click", this.onCancelClick);
  }

  showCancel(visible) {
    if (this.cancelButton) this.cancelButton.hidden = !visible;
  }

  async requestCancel() {
    const button = this.cancelButton;
    if (!button || button.disabled) return;
    const ask = this.element.getAttribute("data-cancel-confirm") !== "false";
    const question = gettext("Cancel this work? Files not finished yet will not be processed.");
    if (ask && !this.confirm(question)) return;
    button.disabled = true;
    setText(button, gettext("Cancelling…"));
    try {
      // The poller ends with the answered status, which renders the cancelled bar.
      if (this.poller?.running) await this.poller.cancel();
      else await cancelProgress(this.sessionId, this.pollerOptions);
    } catch (error) {
      button.disabled = false;
      setText(button, this.cancelLabel);
      const reason = error?.message || gettext("unknown error");
      this.announce(interpolate(gettext("Could not cancel: %(error)s"), { error: reason }), true);
    }
  }

  /**
   * The status as the bar shows it: overall progress never lower than already shown.
   * The server keeps it so (files joining, a retried file, a file failing part-way); this
   * also covers progress written in the seed's format and a status relayed late by a tab.
   */
  steady(status) {
    const value = Number(status?.progress);
    if (!Number.isFinite(value)) return status;
    if (value < this.highest) return { ...status, progress: this.highest };
    this.highest = value;
    return status;
  }

  detach() {
    this.cancelButton?.removeEventListener("click", this.onCancelClick);
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.pendingTimer !== null) this.clearTimer(this.pendingTimer);
    this.pendingTimer = null;
    controllers.delete(this.element);
  }

  dispatch(type, detail) {
    const event = new CustomEvent(type, { bubbles: true, detail: { sessionId: this.sessionId, ...detail } });
    this.element.dispatchEvent(event);
  }

  progress(status) {
    const shown = this.steady(status);
    renderStatus(this.element, shown);
    const eta = FINAL_STATES.includes(status.status) ? null : status.eta_seconds;
    this.timeLeft = renderTimeLeft(this.element, this.timeLeft, eta);
    this.showCancel(!FINAL_STATES.includes(status.status));
    if (!FINAL_STATES.includes(status.status)) this.announce(valueTextOf(shown), false);
    this.dispatch(EVENTS.progress, { status });
  }

  complete(status) {
    this.timeLeft = renderTimeLeft(this.element, this.timeLeft, null);
    this.showCancel(false);
    if (status) renderStatus(this.element, this.steady(status), { state: "completed" });
    this.announce(status ? messageOf(status) : gettext("Processing complete."), true);
    this.dispatch(EVENTS.complete, { status });
    this.unsubscribe = null;
  }

  fail(error) {
    this.timeLeft = renderTimeLeft(this.element, this.timeLeft, null);
    const message = errorMessageOf(error);
    this.showCancel(false);
    const cancelled = error?.kind === "cancelled";
    if (cancelled && error.status) {
      renderStatus(this.element, this.steady(error.status), { state: "cancelled" });
    }
    this.element.setAttribute("data-state", cancelled ? "cancelled" : "error");
    this.element.setAttribute("data-error-kind", error?.kind ?? "");
    this.element.hidden = false;
    part(this.element, "bar")?.removeAttribute("aria-busy");
    setText(part(this.element, "message"), message);
    this.announce(message, true);
    this.dispatch(EVENTS.error, { error, kind: error?.kind, status: error?.status ?? null });
    this.unsubscribe = null;
  }

  /** Polite announcements at most every few seconds; final ones at once. */
  announce(text, urgent) {
    if (!this.live) return;
    if (urgent) {
      if (this.pendingTimer !== null) this.clearTimer(this.pendingTimer);
      this.pendingTimer = null;
      this.write(text);
      return;
    }
    if (this.pendingTimer === null && text === this.lastAnnounced) return;
    const wait = this.lastAnnouncedAt + ANNOUNCE_EVERY - this.now();
    if (wait <= 0 && this.pendingTimer === null) {
      this.write(text);
      return;
    }
    this.pendingText = text;
    if (this.pendingTimer !== null) return;
    this.pendingTimer = this.setTimer(() => {
      this.pendingTimer = null;
      if (this.pendingText !== this.lastAnnounced) this.write(this.pendingText);
    }, Math.max(0, wait));
  }

  write(text) {
    this.live.textContent = text;
    this.lastAnnounced = text;
    this.lastAnnouncedAt = this.now();
    this.pendingText = null;
  }
}

/**
 * Attach one bar (idempotent) and start tracking its session. `options` adds poller
 * options (`headers`, `fetch`, …) and, for tests, `now`/`setTimeout`/`clearTimeout`.
 */
export function attachProgressBar(element, options = {}) {
  const existing = controllers.get(element);
  if (existing) return existing;
  const controller = new ProgressBarController(element, options);
  controllers.set(element, controller);
  controller.start();
  return controller;
}

/** Stop updating a bar (the session keeps being tracked by its other listeners). */
export function detachProgressBar(element) {
  controllers.get(element)?.detach();
}

/** Give a cloned bar (and the ARIA references inside it) ids of its own. */
export function renumberIds(clone) {
  const suffix = Math.random().toString(36).slice(2, 8);
  const renamed = new Map();
  for (const node of [clone, ...clone.querySelectorAll("[id]")]) {
    const id = node.getAttribute("id");
    if (!id) continue;
    renamed.set(id, `${id}-${suffix}`);
    node.setAttribute("id", `${id}-${suffix}`);
  }
  for (const name of ["aria-labelledby", "aria-describedby"]) {
    for (const node of clone.querySelectorAll(`[${name}]`)) {
      const ids = node.getAttribute(name).split(/\s+/).map((id) => renamed.get(id) ?? id);
      node.setAttribute(name, ids.join(" "));
    }
  }
  return clone;
}

/** An idle bar rendered with `resume=True` adopts the sessions remembered or listed. */
function resumeInto(placeholder, shown, options) {
  const baseUrl = placeholder.getAttribute("data-base-url") ?? undefined;
  let last = placeholder;
  let used = false;
  const adopt = (sessionId) => {
    if (!sessionId || shown.has(sessionId)) return;
    shown.add(sessionId);
    const element = used ? renumberIds(placeholder.cloneNode(true)) : placeholder;
    if (used) last.after(element);
    used = true;
    last = element;
    element.setAttribute("data-session-id", sessionId);
    element.removeAttribute("data-resume");
    element.removeAttribute("data-discover");
    attachProgressBar(element, options);
  };
  const discover = placeholder.hasAttribute("data-discover");
  getRememberedSessions({ baseUrl }).forEach(adopt);
  if (!discover) return;
  const { now, setTimeout: _set, clearTimeout: _clear, ...pollerOptions } = options;
  listProgressSessions({ baseUrl, ...pollerOptions })
    .then((sessions) => {
      for (const status of sessions) if (status.status === "processing") adopt(status.session_id);
    })
    .catch(() => {
      // Discovery is best effort: the bars already shown keep working.
    });
}

/** Attach every bar under `root` (default: the document). */
export function attachAll(root = globalThis.document, options = {}) {
  if (!root?.querySelectorAll) return [];
  const elements = [...root.querySelectorAll(SELECTOR)];
  const shown = new Set(elements.map((element) => element.getAttribute("data-session-id")).filter(Boolean));
  const attached = [];
  for (const element of elements) {
    if (element.getAttribute("data-session-id")) attached.push(attachProgressBar(element, options));
    else if (element.hasAttribute("data-resume")) resumeInto(element, shown, options);
  }
  return attached;
}

const document = globalThis.document;
if (document?.querySelectorAll && document.addEventListener) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => attachAll(document), { once: true });
  } else {
    attachAll(document);
  }
}
