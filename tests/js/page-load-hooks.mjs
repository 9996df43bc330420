// Module resolution hooks (registered by helpers.mjs). Node keeps one instance per module
// URL, so a test tab imports polling.js with a query string of its own, like a page load.
// These hooks hand that query on to every module polling.js imports in turn: each tab gets
// its own instances of all of them (environment, tab, registry), as each page of a browser
// does. Imports without a query (progress_bar.js and the polling.js it imports) are shared.

let root = null;

export function initialize(data) {
  root = data.root;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (!root || !parent?.startsWith(root) || !resolved.url.startsWith(root)) return resolved;
  const query = new URL(parent).search;
  if (!query || new URL(resolved.url).search) return resolved;
  return { ...resolved, url: `${resolved.url}${query}` };
}
