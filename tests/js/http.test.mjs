// polling/http.js: what goes to the server and how answers are read: the status request,
// the read capability, cancel, clear, the list, and the CSRF token on writes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createBrowser, issueCapabilities, loadModules, page, recorder, soloTab } from "./helpers.mjs";

const HEADER = "X-Progress-Capability";

describe("the status request", () => {
  test("requests the status URL with cookies, JSON and the extra headers", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("a b/c", {});
    polling.startProgressTracking("a b/c", undefined, undefined, {
      baseUrl: "/custom/api/",
      headers: { "X-CSRFToken": "tok", Authorization: "Token abc" },
    });
    await clock.advance(0);
    const [call] = server.calls;
    assert.equal(call.url, "/custom/api/a%20b%2Fc/status");
    assert.equal(call.method, "GET");
    assert.equal(call.init.credentials, "same-origin");
    assert.equal(call.init.cache, "no-store");
    assert.equal(call.headers.get("Accept"), "application/json");
    assert.equal(call.headers.get("X-CSRFToken"), "tok");
    assert.equal(call.headers.get("Authorization"), "Token abc");
  });
});

describe("read capability", () => {
  test("picks the capability up from a response and sends it on the next polls", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", { progress: 5 });
    const state = issueCapabilities(server);
    polling.startProgressTracking("s1");
    await clock.advance(0);
    state.issuing = false; // the fast path does not renew it
    await clock.advance(2000);
    const polls = server.polls();
    assert.equal(polls.length, 3);
    assert.equal(polls[0].headers.get(HEADER), null, "nothing to send before the first answer");
    assert.equal(polls[1].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get("If-None-Match"), '"s1-1"', "still conditional");
  });

  test("a renewed capability replaces the old one, also from a 304", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    issueCapabilities(server);
    polling.startProgressTracking("s1");
    await clock.advance(2000);
    const polls = server.polls();
    assert.equal(polls[1].headers.get(HEADER), "cap-1");
    assert.equal(polls[2].headers.get(HEADER), "cap-2", "taken from the 304 answer");
  });

  test("a capability passed in the options is sent from the first poll", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    polling.startProgressTracking("s1", undefined, undefined, { capability: "from-page" });
    await clock.advance(1000);
    for (const poll of server.polls()) assert.equal(poll.headers.get(HEADER), "from-page");
  });

  test("an empty or non-string capability option is ignored", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    server.update("s2", {});
    polling.startProgressTracking("s1", undefined, undefined, { capability: "" });
    polling.startProgressTracking("s2", undefined, undefined, { capability: 42 });
    await clock.advance(0);
    for (const poll of server.polls()) assert.equal(poll.headers.get(HEADER), null);
  });

  test("the capability never appears in a URL", async () => {
    const { polling, clock, server } = await soloTab();
    server.update("s1", {});
    issueCapabilities(server);
    polling.startProgressTracking("s1", undefined, undefined, { capability: "secret-cap" });
    await clock.advance(3000);
    for (const call of server.calls) {
      assert.ok(!call.url.includes("cap-"), call.url);
      assert.ok(!call.url.includes("secret-cap"), call.url);
    }
  });
});

describe("poller.cancel()", () => {
  test("posts to the cancel URL with the CSRF cookie and ends tracking at once", async () => {
    const browser = createBrowser();
    browser.server.update("a b", { progress: 30 });
    const tab = await page(browser);
    tab.document.cookie = "sessionid=abc; csrftoken=tok%3D1";
    const events = recorder();
    const poller = tab.polling.startProgressTracking("a b", events.onComplete, events.onError);
    await browser.clock.advance(0);

    const status = await poller.cancel();
    assert.equal(status.status, "cancelled");
    const post = browser.server.calls.at(-1);
    assert.equal(post.method, "POST");
    assert.equal(post.url, "/api/v1/progress/a%20b/cancel");
    assert.equal(post.headers.get("X-CSRFToken"), "tok=1");
    assert.equal(post.init.credentials, "same-origin");
    // Without waiting for the next poll.
    assert.equal(events.of("error").length, 1);
    assert.equal(events.of("error")[0].error.kind, "cancelled");
    assert.equal(poller.running, false);
  });

  test("a session that had already completed ends through onComplete", async () => {
    const browser = createBrowser();
    browser.server.update("s1", { progress: 30 });
    const tab = await page(browser);
    const events = recorder();
    const poller = tab.polling.startProgressTracking("s1", events.onComplete, events.onError);
    await browser.clock.advance(0);
    browser.server.update("s1", { status: "completed", progress: 100 });
    const status = await poller.cancel();
    assert.equal(status.status, "completed");
    assert.equal(events.of("complete").length, 1);
    assert.equal(events.of("error").length, 0);
  });

  test("refusals reject with the matching kind and leave tracking alone", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    const poller = tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    const answer = (status, body) => () =>
      new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
    browser.server.respond = answer(403, { detail: "CSRF Failed: CSRF token missing." });
    await assert.rejects(poller.cancel(), {
      kind: "forbidden",
      message: "CSRF Failed: CSRF token missing.",
      httpStatus: 403,
    });
    browser.server.respond = answer(404, { detail: "Progress session not found." });
    await assert.rejects(poller.cancel(), { kind: "not_found", httpStatus: 404 });
    browser.server.respond = answer(503, { detail: "Progress is temporarily unavailable." });
    await assert.rejects(poller.cancel(), { kind: "unavailable", httpStatus: 503 });
    browser.server.respond = answer(200, "not json");
    await assert.rejects(poller.cancel(), { kind: "unavailable", httpStatus: 200 });
    assert.equal(poller.running, true);
  });
});

describe("cancelProgress()", () => {
  test("cancels a session this page does not track, and ends one it does", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    browser.server.update("s2", {});
    const tab = await page(browser);
    const events = recorder();
    tab.polling.startProgressTracking("s2", events.onComplete, events.onError);
    await browser.clock.advance(0);

    assert.equal((await tab.polling.cancelProgress("s1")).status, "cancelled");
    assert.equal(events.of("error").length, 0, "s2 is not affected");
    const sent = await tab.polling.cancelProgress("s2", { headers: { "X-CSRFToken": "mine" } });
    assert.equal(sent.status, "cancelled");
    assert.equal(browser.server.calls.at(-1).headers.get("X-CSRFToken"), "mine");
    assert.equal(events.of("error")[0].error.kind, "cancelled");
    assert.equal(tab.polling.getProgressPoller("s2"), null);
  });

  test("sends no cookie token to another site's API", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.document.cookie = "csrftoken=tok";
    await tab.polling.cancelProgress("s1", { baseUrl: "https://api.example.org/progress" });
    const post = browser.server.calls.at(-1);
    assert.equal(post.url, "https://api.example.org/progress/s1/cancel");
    assert.equal(post.headers.get("X-CSRFToken"), null);
  });
});

describe("clearing", () => {
  test("clearProgress sends DELETE with the CSRF cookie and stops tracking", async () => {
    const browser = createBrowser();
    browser.server.update("s1", {});
    const tab = await page(browser);
    tab.document.cookie = "sessionid=abc; csrftoken=tok%3D1";
    const poller = tab.polling.startProgressTracking("s1");
    await browser.clock.advance(0);
    browser.server.respond = (call) =>
      call.method === "DELETE"
        ? new Response(JSON.stringify({ message: "Progress data cleared successfully" }), { status: 200 })
        : undefined;
    assert.equal(await tab.polling.clearProgress("s1"), true);
    const deletion = browser.server.calls.at(-1);
    assert.equal(deletion.method, "DELETE");
    assert.equal(deletion.url, "/api/v1/progress/s1");
    assert.equal(deletion.headers.get("X-CSRFToken"), "tok=1");
    assert.equal(poller.running, false);
    assert.deepEqual(tab.polling.getRememberedSessions(), []);

    browser.server.respond = () => new Response("{}", { status: 404 });
    assert.equal(await tab.polling.clearProgress("s1", { headers: { "X-CSRFToken": "mine" } }), false);
    assert.equal(browser.server.calls.at(-1).headers.get("X-CSRFToken"), "mine");
    browser.server.respond = () => new Response("{}", { status: 403 });
    await assert.rejects(tab.polling.clearProgress("s1"), { kind: "forbidden" });
  });
});

/** http.js with its environment, and a fetch that records calls and answers `answer(call)`. */
async function httpModule({ cookie = null, answer = () => new Response("{}") } = {}) {
  const { environment, http, options } = await loadModules("environment", "http", "options");
  environment.replaceEnvironment({ document: cookie === null ? null : { cookie } });
  const calls = [];
  const fetch = async (url, init) => {
    const call = { url, init, headers: new Headers(init.headers) };
    calls.push(call);
    return answer(call);
  };
  const normalize = (given = {}) => options.normalizeOptions({ fetch, ...given });
  return { http, normalize, calls };
}

function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers });
}

describe("requestStatus", () => {
  test("is conditional only with an ETag, and sends the capability only when there is one", async () => {
    const { http, normalize, calls } = await httpModule();
    const signal = new AbortController().signal;
    await http.requestStatus(normalize(), "a/b", {});
    await http.requestStatus(normalize(), "a/b", { etag: '"v2"', capability: "cap", signal });
    assert.equal(calls[0].url, "/api/v1/progress/a%2Fb/status");
    assert.equal(calls[0].headers.get("If-None-Match"), null);
    assert.equal(calls[0].headers.get(HEADER), null);
    assert.equal(calls[1].headers.get("If-None-Match"), '"v2"');
    assert.equal(calls[1].headers.get(HEADER), "cap");
    assert.equal(calls[1].init.signal, signal);
  });

  test("reads a status, an unchanged answer and the capability that comes with them", async () => {
    const body = { session_id: "s1", status: "processing", progress: 5 };
    const answers = [
      json(body, 200, { ETag: '"s1-1"', [HEADER]: "cap-1", "X-Poll-Interval": "2" }),
      new Response(null, { status: 304, headers: { [HEADER]: "cap-2" } }),
    ];
    const { http, normalize } = await httpModule({ answer: () => answers.shift() });
    assert.deepEqual(await http.requestStatus(normalize(), "s1"), {
      kind: "status",
      status: body,
      etag: '"s1-1"',
      interval: 2000,
      capability: "cap-1",
    });
    assert.deepEqual(await http.requestStatus(normalize(), "s1"), {
      kind: "unchanged",
      interval: null,
      capability: "cap-2",
    });
  });

  test("keeps the server's interval between 0.1 s and 60 s, and ignores a malformed one", async () => {
    const seen = [];
    for (const value of ["0.01", "600", "1.5", "soon", "-1", " "]) {
      const answer = () => json({ status: "processing" }, 200, { "X-Poll-Interval": value });
      const { http, normalize } = await httpModule({ answer });
      seen.push((await http.requestStatus(normalize(), "s1")).interval);
    }
    assert.deepEqual(seen, [100, 60000, 1500, null, null, null]);
  });

  test("what ends tracking, and what is retried", async () => {
    const cases = [
      [json({ detail: "Gone." }, 404), { kind: "not_found", message: "Gone.", httpStatus: 404 }],
      [
        new Response("gone", { status: 404 }),
        { kind: "not_found", message: "Progress session not found.", httpStatus: 404 },
      ],
      [json({ detail: "Log in." }, 401), { kind: "forbidden", message: "Log in.", httpStatus: 401 }],
      [
        json({}, 403),
        {
          kind: "forbidden",
          message: "Not allowed to read this progress session.",
          httpStatus: 403,
        },
      ],
      [new Response("not json", { status: 200 }), { kind: "transient", interval: null }],
      [json({ no: "status" }), { kind: "transient", interval: null }],
      [
        new Response("busy", { status: 503, headers: { "Retry-After": "5" } }),
        { kind: "transient", interval: null, retryAfter: 5000 },
      ],
      [
        new Response("slow down", { status: 429, headers: { "Retry-After": "3600" } }),
        { kind: "transient", interval: null, retryAfter: 30000 },
      ],
    ];
    for (const [response, expected] of cases) {
      const { http, normalize } = await httpModule({ answer: () => response });
      assert.deepEqual(await http.requestStatus(normalize(), "s1"), expected);
    }
  });

  test("rejects when the request fails, or when there is no fetch at all", async () => {
    const { http, normalize } = await httpModule({
      answer: () => Promise.reject(new TypeError("Failed to fetch")),
    });
    await assert.rejects(http.requestStatus(normalize(), "s1"), TypeError);
    const bare = await loadModules("environment", "http");
    bare.environment.replaceEnvironment({ fetch: null });
    const withoutFetch = { ...normalize(), fetch: null };
    await assert.rejects(bare.http.requestStatus(withoutFetch, "s1"), /No fetch implementation/);
  });
});

describe("the CSRF token on writes", () => {
  const cookie = "sessionid=abc; csrftoken=tok%3D1";

  test("goes to this site's API from the csrftoken cookie", async () => {
    const answer = () => json({ status: "cancelled" });
    for (const baseUrl of ["/api/v1/progress", ""]) {
      const { http, normalize, calls } = await httpModule({ cookie, answer });
      await http.requestCancel(normalize({ baseUrl }), "s1");
      assert.equal(calls[0].init.method, "POST");
      assert.equal(calls[0].headers.get("X-CSRFToken"), "tok=1", `base URL "${baseUrl}"`);
    }
  });

  test("never goes to another site, and never replaces the caller's own", async () => {
    for (const baseUrl of ["//api.example.org/progress", "https://api.example.org/progress"]) {
      const { http, normalize, calls } = await httpModule({ cookie });
      await http.requestClear(normalize({ baseUrl }), "s1");
      assert.equal(calls[0].init.method, "DELETE");
      assert.equal(calls[0].headers.get("X-CSRFToken"), null, baseUrl);
    }
    const { http, normalize, calls } = await httpModule({ cookie });
    await http.requestClear(normalize({ headers: { "x-csrftoken": "mine" } }), "s1");
    assert.equal(calls[0].headers.get("X-CSRFToken"), "mine");
  });

  test("is left out without a cookie or a document", async () => {
    for (const given of [null, "sessionid=abc"]) {
      const { http, normalize, calls } = await httpModule({ cookie: given });
      await http.requestClear(normalize(), "s1");
      assert.equal(calls[0].headers.get("X-CSRFToken"), null);
    }
  });
});

describe("requestSessionList", () => {
  test("keeps the status bodies of the results, and nothing else", async () => {
    const listed = [{ session_id: "s1", status: "processing" }, { session_id: "s2" }, null];
    const { http, normalize, calls } = await httpModule({ answer: () => json({ results: listed }) });
    assert.deepEqual(await http.requestSessionList(normalize({ baseUrl: "/p/" })), [listed[0]]);
    assert.equal(calls[0].url, "/p/");
    const empty = await httpModule({ answer: () => json({ results: "none" }) });
    assert.deepEqual(await empty.http.requestSessionList(empty.normalize()), []);
  });
});
