// Just enough DOM for progress_bar.js: elements, attributes, text, attribute selectors.

class FakeStyle {
  constructor() {
    this.properties = new Map();
  }
  setProperty(name, value) {
    this.properties.set(name, String(value));
  }
  getPropertyValue(name) {
    return this.properties.get(name) ?? "";
  }
}

export class FakeElement {
  constructor(tagName, ownerDocument) {
    this.tagName = tagName.toUpperCase();
    this.ownerDocument = ownerDocument;
    this.attributes = new Map();
    this.childNodes = [];
    this.parentNode = null;
    this.text = "";
    this.className = "";
    this.style = new FakeStyle();
    this.events = [];
    this.listeners = new Map();
  }

  get disabled() {
    return this.attributes.has("disabled");
  }
  set disabled(value) {
    if (value) this.attributes.set("disabled", "");
    else this.attributes.delete("disabled");
  }

  addEventListener(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
  }
  removeEventListener(type, listener) {
    this.listeners.get(type)?.delete(listener);
  }
  /** A user's click: nothing happens on a disabled or hidden button. */
  click() {
    if (this.disabled || this.hidden) return;
    for (const listener of [...(this.listeners.get("click") ?? [])]) listener({ type: "click" });
  }

  get hidden() {
    return this.attributes.has("hidden");
  }
  set hidden(value) {
    if (value) this.attributes.set("hidden", "");
    else this.attributes.delete("hidden");
  }

  getAttribute(name) {
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }
  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }
  removeAttribute(name) {
    this.attributes.delete(name);
  }
  hasAttribute(name) {
    return this.attributes.has(name);
  }

  get textContent() {
    if (!this.childNodes.length) return this.text;
    return this.childNodes.map((node) => (typeof node === "string" ? node : node.textContent)).join("");
  }
  set textContent(value) {
    this.childNodes = [];
    this.text = String(value);
  }

  get children() {
    return this.childNodes.filter((node) => typeof node !== "string");
  }

  append(...nodes) {
    for (const node of nodes) {
      if (typeof node !== "string") node.parentNode = this;
      this.childNodes.push(node);
    }
  }
  replaceChildren(...nodes) {
    this.childNodes = [];
    this.text = "";
    this.append(...nodes);
  }
  after(node) {
    const siblings = this.parentNode.childNodes;
    siblings.splice(siblings.indexOf(this) + 1, 0, node);
    node.parentNode = this.parentNode;
  }

  *descendants() {
    for (const child of this.children) {
      yield child;
      yield* child.descendants();
    }
  }

  /** Supports `[name]`, `[name="value"]` and comma-free lists of those only. */
  querySelectorAll(selector) {
    const match = selector.match(/^\[([\w-]+)(?:="([^"]*)")?\]$/);
    if (!match) throw new Error(`fake DOM: unsupported selector ${selector}`);
    const [, name, value] = match;
    return [...this.descendants()].filter(
      (node) => node.hasAttribute(name) && (value === undefined || node.getAttribute(name) === value),
    );
  }
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }

  dispatchEvent(event) {
    this.events.push(event);
    return true;
  }

  cloneNode(deep) {
    const clone = new FakeElement(this.tagName, this.ownerDocument);
    clone.attributes = new Map(this.attributes);
    clone.className = this.className;
    clone.text = this.text;
    if (deep) {
      for (const node of this.childNodes) clone.append(typeof node === "string" ? node : node.cloneNode(true));
    }
    return clone;
  }
}

export class FakeDocument extends FakeElement {
  constructor() {
    super("#document", null);
    this.ownerDocument = this;
  }
  createElement(tagName) {
    return new FakeElement(tagName, this);
  }
}

function element(document, tagName, attributes = {}, children = []) {
  const node = document.createElement(tagName);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** The markup of templates/progress_tracking/progress_bar.html, as fake elements. */
export function buildBar(
  document,
  { sessionId = "s1", status = "processing", progress = 0, cancel = true, ...extra } = {},
) {
  const bar = element(document, "div", {
    class: "progress-tracking",
    "data-progress-tracking": "",
    "data-session-id": sessionId,
    "data-base-url": "/api/v1/progress",
    "data-interval": "1000",
    "data-state": sessionId ? status || "processing" : "idle",
    "data-status": status,
    "data-progress": String(progress),
    ...extra,
  }, [
    element(document, "div", { class: "progress-tracking__header" }, [
      element(document, "span", { id: "pt-label" }, ["Progress"]),
      element(document, "span", { "data-progress-tracking-percent": "", "aria-hidden": "true" }, [`${progress}%`]),
    ]),
    element(document, "div", {
      role: "progressbar",
      "aria-labelledby": "pt-label",
      "aria-describedby": "pt-message",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(progress),
      "aria-valuetext": `${progress}%`,
      "data-progress-tracking-bar": "",
    }, [element(document, "div", { class: "progress-tracking__fill" })]),
    element(document, "p", { id: "pt-message", "data-progress-tracking-message": "" }),
    element(document, "p", { "data-progress-tracking-eta": "", hidden: "" }),
    ...(cancel
      ? [
          element(
            document,
            "button",
            {
              type: "button",
              "aria-describedby": "pt-label",
              "data-progress-tracking-cancel": "",
              ...(status === "processing" ? {} : { hidden: "" }),
            },
            ["Cancel"],
          ),
        ]
      : []),
    element(document, "ul", { "data-progress-tracking-files": "", hidden: "" }),
    element(document, "div", {
      role: "status",
      "aria-live": "polite",
      "aria-atomic": "true",
      "data-progress-tracking-live": "",
    }),
  ]);
  if (!sessionId) bar.hidden = true;
  document.append(bar);
  return bar;
}
