/**
 * The KnowledgeBase page: uploads without leaving the page, one live bar per batch, bars
 * for batches started elsewhere (another tab or device), and a fresh document list when a
 * batch ends. The bars themselves are progress_tracking's `{% progress_bar %}` partials.
 */
import { EVENTS, attachProgressBar, renumberIds } from "../progress_tracking/progress_bar.js";
import { listProgressSessions } from "../progress_tracking/polling.js";

const DISCOVER_EVERY_MS = 5000;

const container = document.getElementById("progress");
const template = document.getElementById("progress-bar-template");
const idle = document.getElementById("no-progress");
const form = document.getElementById("upload-form");
const errorBox = document.getElementById("upload-error");
const knowledgeId = container.dataset.knowledgeId;

function shownSessions() {
  return new Set(
    [...container.querySelectorAll("[data-progress-tracking]")].map((el) => el.dataset.sessionId),
  );
}

export function showSession(sessionId, capability = null) {
  if (!sessionId || shownSessions().has(sessionId)) return;
  const bar = renumberIds(template.content.firstElementChild.cloneNode(true));
  bar.dataset.sessionId = sessionId;
  // The upload's answer carries a read capability: the bar's polls take the fast path.
  if (capability) bar.dataset.capability = capability;
  bar.hidden = false;
  container.append(bar);
  idle.hidden = true;
  attachProgressBar(bar);
}

function showUploadError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
      },
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 202) {
      showSession(body.session_id, response.headers.get("X-Progress-Capability"));
      form.reset();
    } else {
      showUploadError(body.detail || `Upload failed (HTTP ${response.status}).`);
    }
  } catch {
    showUploadError("Upload failed: the server could not be reached. Try again.");
  } finally {
    button.disabled = false;
  }
});

async function refreshDocuments() {
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById("documents");
  if (fresh) document.getElementById("documents").replaceWith(fresh);
}

container.addEventListener(EVENTS.complete, refreshDocuments);
container.addEventListener(EVENTS.error, refreshDocuments);

async function discover() {
  if (document.visibilityState !== "visible") return;
  try {
    for (const status of await listProgressSessions()) {
      if (String(status.object_id) === knowledgeId) showSession(status.session_id);
    }
  } catch {
    // Discovery is best effort; the bars already shown keep polling.
  }
}

discover();
setInterval(discover, DISCOVER_EVERY_MS);
