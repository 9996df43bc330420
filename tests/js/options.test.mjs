// polling/options.js: the caller's options, checked once, with the defaults.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { loadModules } from "./helpers.mjs";

const { options } = await loadModules("options");

const DEFAULT_OPTIONS = {
  interval: 1000,
  staleTimeout: 60000,
  baseUrl: "/api/v1/progress",
  headers: {},
  fetch: null,
  capability: null,
};

describe("normalizeOptions", () => {
  test("no options are the defaults", () => {
    for (const given of [undefined, null, {}]) {
      assert.deepEqual(options.normalizeOptions(given), DEFAULT_OPTIONS);
    }
  });

  test("keeps usable values", () => {
    const fetch = async () => new Response(null);
    const normalized = options.normalizeOptions({
      interval: 2500,
      staleTimeout: "5000",
      baseUrl: "/custom/api/",
      headers: { Authorization: "Token abc", "X-Count": 3 },
      fetch,
      capability: "cap",
      onProgress: () => {},
    });
    assert.deepEqual(normalized, {
      interval: 2500,
      staleTimeout: 5000,
      baseUrl: "/custom/api",
      headers: { Authorization: "Token abc", "X-Count": "3" },
      fetch,
      capability: "cap",
    });
  });

  test("unusable values fall back to the defaults", () => {
    for (const bad of [0, -1, "soon", Number.NaN, Number.POSITIVE_INFINITY, null]) {
      const normalized = options.normalizeOptions({ interval: bad, staleTimeout: bad });
      assert.equal(normalized.interval, 1000, `interval ${bad}`);
      assert.equal(normalized.staleTimeout, 60000, `staleTimeout ${bad}`);
    }
    const normalized = options.normalizeOptions({ fetch: "fetch", capability: 42 });
    assert.equal(normalized.fetch, null);
    assert.equal(normalized.capability, null);
    assert.equal(options.normalizeOptions({ capability: "" }).capability, null);
  });

  test("takes headers as an object, a Headers or pairs", () => {
    const expected = { authorization: "Token abc", "x-csrftoken": "tok" };
    const headers = new Headers({ Authorization: "Token abc", "X-CSRFToken": "tok" });
    assert.deepEqual(options.normalizeOptions({ headers }).headers, expected);
    const pairs = [
      ["authorization", "Token abc"],
      ["x-csrftoken", "tok"],
    ];
    assert.deepEqual(options.normalizeOptions({ headers: pairs }).headers, expected);
  });
});

describe("normalizeBaseUrl", () => {
  test("drops trailing slashes and defaults when missing", () => {
    assert.equal(options.normalizeBaseUrl("/custom/api//"), "/custom/api");
    const remote = "https://api.example.org/progress";
    assert.equal(options.normalizeBaseUrl(`${remote}/`), remote);
    assert.equal(options.normalizeBaseUrl(""), "");
    assert.equal(options.normalizeBaseUrl(undefined), "/api/v1/progress");
    assert.equal(options.normalizeBaseUrl(null), "/api/v1/progress");
  });
});
