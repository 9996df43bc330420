/**
 * Tab coordination: the tabs of a site share every status and their visibility over a
 * BroadcastChannel, and elect one leader per session with Web Locks, so requests to the
 * server do not grow with the number of open tabs. Without those APIs a tab is on its own.
 */
import {
  CHANNEL_NAME,
  LOCK_PREFIX,
  VISIBILITY_HEARTBEAT,
  VISIBILITY_TTL,
} from "./constants.js";
import { env } from "./environment.js";
import { report } from "./errors.js";

// Hooks the tab calls on the pollers it serves; symbols keep them off the public surface.
export const RECEIVE = Symbol("receive");
export const VISIBILITY = Symbol("visibility");

let tab = null;

/** This page's tab, created with the environment in force on first use. */
export function currentTab() {
  tab ??= new Tab(env());
  return tab;
}

/** Close this page's tab (before the environment changes); the next use opens a new one. */
export function closeTab() {
  tab?.close();
  tab = null;
}

function randomId() {
  const uuid = globalThis.crypto?.randomUUID?.();
  return uuid ?? `${env().now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

class Tab {
  constructor(environmentValues) {
    this.env = environmentValues;
    this.id = randomId();
    this.coordinated = Boolean(environmentValues.locks && environmentValues.BroadcastChannel);
    this.members = new Map(); // sessionId -> Set<ProgressPoller>
    this.peers = new Map(); // tabId -> { visible, seenAt }
    this.channel = null;
    this.heartbeat = null;
    this.open = false;
    this.onVisibilityChange = () => this.visibilityChanged();
    this.onPageHide = () => this.broadcast({ type: "bye" });
  }

  get visible() {
    const state = this.env.document?.visibilityState;
    return state !== "hidden";
  }

  peerVisible(tabId) {
    const peer = this.peers.get(tabId);
    return Boolean(peer?.visible && this.env.now() - peer.seenAt < VISIBILITY_TTL);
  }

  anyVisible() {
    if (this.visible) return true;
    for (const tabId of this.peers.keys()) if (this.peerVisible(tabId)) return true;
    return false;
  }

  join(poller) {
    let pollers = this.members.get(poller.sessionId);
    if (!pollers) {
      pollers = new Set();
      this.members.set(poller.sessionId, pollers);
    }
    pollers.add(poller);
    if (!this.open) this.start();
  }

  leave(poller) {
    const pollers = this.members.get(poller.sessionId);
    if (!pollers) return;
    pollers.delete(poller);
    if (!pollers.size) this.members.delete(poller.sessionId);
    // Close the channel once nothing is tracked, so idle pages hold no resources.
    if (!this.members.size) this.close();
  }

  start() {
    this.open = true;
    this.env.document?.addEventListener?.("visibilitychange", this.onVisibilityChange);
    if (!this.coordinated) return;
    this.env.window?.addEventListener?.("pagehide", this.onPageHide);
    this.channel = new this.env.BroadcastChannel(CHANNEL_NAME);
    this.channel.onmessage = (event) => this.receive(event.data);
    this.announceVisibility();
  }

  close() {
    if (!this.open) return;
    this.open = false;
    this.env.document?.removeEventListener?.("visibilitychange", this.onVisibilityChange);
    this.env.window?.removeEventListener?.("pagehide", this.onPageHide);
    if (this.heartbeat !== null) this.env.clearTimeout(this.heartbeat);
    this.heartbeat = null;
    if (this.channel) {
      this.broadcast({ type: "bye" });
      this.channel.close();
      this.channel = null;
    }
    this.peers.clear();
  }

  announceVisibility() {
    if (this.heartbeat !== null) this.env.clearTimeout(this.heartbeat);
    this.heartbeat = null;
    if (!this.channel) return;
    this.broadcast({ type: "visibility" });
    // Visible tabs repeat themselves so a crashed tab stops counting after the TTL.
    if (this.visible) {
      this.heartbeat = this.env.setTimeout(() => this.announceVisibility(), VISIBILITY_HEARTBEAT);
    }
  }

  broadcast(message) {
    const full = { ...message, from: this.id, visible: this.visible };
    try {
      this.channel?.postMessage(full);
    } catch (error) {
      report(error);
    }
    return full;
  }

  /** Send to the other tabs and to the other pollers of the same session in this tab. */
  publish(sender, message) {
    const full = this.broadcast(message);
    for (const poller of [...(this.members.get(message.sessionId) ?? [])]) {
      if (poller !== sender) poller[RECEIVE](full);
    }
  }

  receive(message) {
    if (!message || typeof message !== "object" || message.from === this.id) return;
    const wasVisible = this.peerVisible(message.from);
    if (message.type === "bye") this.peers.delete(message.from);
    else this.peers.set(message.from, { visible: Boolean(message.visible), seenAt: this.env.now() });
    if (wasVisible !== this.peerVisible(message.from)) this.notifyVisibility();
    if (typeof message.sessionId !== "string") return;
    for (const poller of [...(this.members.get(message.sessionId) ?? [])]) poller[RECEIVE](message);
  }

  visibilityChanged() {
    this.announceVisibility();
    this.notifyVisibility();
  }

  notifyVisibility() {
    for (const pollers of [...this.members.values()]) {
      for (const poller of [...pollers]) poller[VISIBILITY]();
    }
  }

  /**
   * Ask for the leadership of a session: its Web Lock, queued behind the current leader,
   * or taken from it with `steal`. `onGranted(release)` runs once the lock is held and
   * returns whether to keep it (until `release()`); `onLost()` runs when the request is
   * refused or aborted (`signal`), or the lock is stolen by another tab.
   */
  requestLeadership(sessionId, { steal, signal }, onGranted, onLost) {
    const locks = this.env.locks;
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    // steal cannot be combined with signal; a steal is granted at once anyway.
    const lockOptions = steal ? { steal: true } : { signal };
    Promise.resolve()
      .then(() =>
        locks.request(LOCK_PREFIX + sessionId, lockOptions, () =>
          onGranted(release) ? held : undefined,
        ),
      )
      .catch(() => {
        release();
        onLost();
      });
  }
}
