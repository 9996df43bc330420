// polling/errors.js: the error tracking ends with, and reporting a callback's error.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { loadModules } from "./helpers.mjs";

const { errors } = await loadModules("errors");

describe("ProgressTrackingError", () => {
  test("is an Error with a kind and the details it was given", () => {
    const status = { status: "error" };
    const error = new errors.ProgressTrackingError("failed", "Disk full", {
      sessionId: "s1",
      status,
      httpStatus: 500,
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ProgressTrackingError");
    assert.equal(error.message, "Disk full");
    assert.equal(error.kind, "failed");
    assert.equal(error.sessionId, "s1");
    assert.equal(error.status, status);
    assert.equal(error.httpStatus, 500);
  });

  test("details default to null", () => {
    const error = new errors.ProgressTrackingError("stalled", "No progress for 60 seconds.");
    assert.equal(error.sessionId, null);
    assert.equal(error.status, null);
    assert.equal(error.httpStatus, null);
  });
});

describe("safely", () => {
  const originalError = console.error;
  const originalReport = Object.getOwnPropertyDescriptor(globalThis, "reportError");

  afterEach(() => {
    if (originalReport) Object.defineProperty(globalThis, "reportError", originalReport);
    else delete globalThis.reportError;
    console.error = originalError;
  });

  test("calls the callback with the value, and ignores a missing one", () => {
    const seen = [];
    errors.safely((value) => seen.push(value), 42);
    errors.safely(undefined, 1);
    errors.safely("not a function", 2);
    assert.deepEqual(seen, [42]);
  });

  test("reports what a callback throws with reportError, and does not throw", () => {
    const reported = [];
    globalThis.reportError = (error) => reported.push(error);
    console.error = () => assert.fail("reportError is there");
    const boom = new Error("boom");
    errors.safely(() => {
      throw boom;
    }, null);
    assert.deepEqual(reported, [boom]);
  });

  test("falls back to console.error without reportError", () => {
    delete globalThis.reportError;
    const logged = [];
    console.error = (error) => logged.push(error);
    errors.safely(() => {
      throw new Error("boom");
    }, null);
    assert.equal(logged.length, 1);
    assert.equal(logged[0].message, "boom");
  });
});
