import test from "ava";
import { z } from "zod";
import { DEFAULT_NOW, SandboxInvalidJobError, SandboxPool } from "../../sandbox/index.ts";
import { callFailure, runF, TEST_POOL_OPTIONS } from "./helpers.ts";

const pool = new SandboxPool(TEST_POOL_OPTIONS);
test.after.always(() => pool.close());

// Discounted returns as in CleanRL's ppo.py (returns[t] = r[t] + gamma * returns[t+1] * nonterminal).
const RETURNS_CODE = `
function discountedReturns(rewards, gamma) {
  const out = new Array(rewards.length);
  let running = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    running = rewards[t] + gamma * running;
    out[t] = running;
  }
  console.log("computed", rewards.length, "returns");
  return out;
}`;

test("each call runs the entry function on copied arguments and returns its value", async (t) => {
  const result = await pool.run({
    code: RETURNS_CODE,
    entry: "discountedReturns",
    calls: [
      { name: "three ones", args: [[1, 1, 1], 0.5] },
      { name: "empty", args: [[], 0.99] },
    ],
    schema: z.array(z.number()),
  });
  t.is(result.status, "ok");
  t.is(result.error, undefined);
  t.deepEqual(
    result.calls.map((c) => (c.ok ? { name: c.name, value: c.value } : c)),
    [
      { name: "three ones", value: [1.75, 1.5, 1] },
      { name: "empty", value: [] },
    ],
  );
  t.is(result.console, "computed 3 returns\ncomputed 0 returns\n");
  t.false(result.consoleTruncated);
  t.true(result.memoryBytes > 0);
  t.true(result.cpuTimeMs > 0);
  t.true(result.wallTimeMs > 0);
});

test("arrow functions, let bindings, async functions and per-call function names are all callable", async (t) => {
  const code = `
    const double = (x) => 2 * x;
    let triple = function (x) { return 3 * x; };
    async function later(x) { await null; return x + 1; }
    var counter = 0;
    function count() { return ++counter; }`;
  const result = await pool.run({
    code,
    calls: [
      { name: "a", fn: "double", args: [4] },
      { name: "b", fn: "triple", args: [4] },
      { name: "c", fn: "later", args: [4] },
      { name: "d", fn: "count" },
      { name: "e", fn: "count" },
    ],
  });
  t.deepEqual(
    result.calls.map((c) => c.ok && c.value),
    [8, 12, 5, 1, 2],
  );
});

test("values are copied out as JSON data: typed arrays become arrays, functions and undefined vanish", async (t) => {
  const result = await runF(
    pool,
    `function f() {
      return { obs: new Float32Array([0.5, -1]), fn() {}, nothing: undefined, nan: NaN, nested: [1, "two", null, true] };
    }`,
  );
  t.deepEqual(result.calls[0].ok && result.calls[0].value, {
    obs: [0.5, -1],
    nan: null,
    nested: [1, "two", null, true],
  });
});

test("a function returning nothing gives an undefined value", async (t) => {
  const result = await runF(pool, "function f() {}");
  t.true(result.calls[0].ok);
  t.is(result.calls[0].ok && result.calls[0].value, undefined);
});

test("a value of the wrong shape fails its call with a result error naming the problem", async (t) => {
  const result = await pool.run({
    code: "function f(n) { return n > 0 ? [1, 2] : 'oops'; }",
    entry: "f",
    calls: [
      { name: "good", args: [1] },
      { name: "bad", args: [0] },
    ],
    schema: z.array(z.number()),
  });
  t.is(result.status, "ok");
  t.true(result.calls[0].ok);
  const error = callFailure(t, { ...result, calls: [result.calls[1]] });
  t.is(error.kind, "result");
  t.regex(error.message, /wrong shape/);
});

test("a syntax error fails the job with its location and marks every call as not run", async (t) => {
  const result = await pool.run({ code: "function f( {", entry: "f", calls: [{ name: "a" }, { name: "b" }] });
  t.is(result.status, "error");
  t.is(result.error?.kind, "syntax");
  t.regex(result.error?.message ?? "", /SyntaxError.*submission\.js:1/);
  t.deepEqual(
    result.calls.map((c) => [c.name, c.ok, !c.ok && c.error.kind]),
    [
      ["a", false, "syntax"],
      ["b", false, "syntax"],
    ],
  );
});

test("an error thrown at the top level fails the job as a runtime error with the submission's frames", async (t) => {
  const result = await runF(pool, "function f() {}\n\nnull.boom;");
  t.is(result.status, "error");
  t.is(result.error?.kind, "runtime");
  t.regex(result.error?.message ?? "", /TypeError/);
  t.regex(result.error?.stack ?? "", /submission\.js:3/);
});

test("a call that throws fails alone; the next calls still run in the same isolate", async (t) => {
  const code = `
    let calls = 0;
    function f(x) {
      calls++;
      if (x < 0) throw new RangeError("negative input " + x);
      return calls;
    }`;
  const result = await pool.run({
    code,
    entry: "f",
    calls: [
      { name: "neg", args: [-1] },
      { name: "pos", args: [1] },
    ],
  });
  t.is(result.status, "ok");
  const error = callFailure(t, result);
  t.is(error.kind, "runtime");
  t.is(error.message, "RangeError: negative input -1");
  t.regex(error.stack ?? "", /at f \(submission\.js:5/);
  t.deepEqual(result.calls[1].ok && result.calls[1].value, 2);
});

test("thrown non-errors and missing functions are reported as runtime errors", async (t) => {
  const result = await pool.run({
    code: "function f() { throw 'plain string'; }",
    calls: [
      { name: "thrown", fn: "f" },
      { name: "missing", fn: "nope" },
    ],
  });
  t.deepEqual(
    result.calls.map((c) => !c.ok && [c.error.kind, c.error.message]),
    [
      ["runtime", "Uncaught plain string"],
      ["runtime", "ReferenceError: the submission declares no function named nope"],
    ],
  );
});

test("Math.random is seeded per job and Date is frozen at the job's clock", async (t) => {
  const code = `function f() {
    return {
      random: [Math.random(), Math.random(), Math.random()],
      now: Date.now(),
      created: new Date().getTime(),
      text: Date(),
      explicit: new Date(0).toISOString(),
      isDate: new Date() instanceof Date,
    };
  }`;
  const run = (seed: number, now?: number) =>
    pool.run({ code, entry: "f", calls: [{ name: "f" }], seed, now });
  const [a, b, c, d] = await Promise.all([run(7), run(7), run(8), run(7, 1_000)]);
  const value = (r: typeof a) => (r.calls[0].ok ? (r.calls[0].value as Record<string, unknown>) : t.fail());
  t.deepEqual(value(a), value(b));
  t.notDeepEqual(value(a).random, value(c).random);
  t.true((value(a).random as number[]).every((x) => x >= 0 && x < 1));
  t.is(value(a).now, DEFAULT_NOW);
  t.is(value(a).created, DEFAULT_NOW);
  t.regex(value(a).text as string, /^Mon Jan 01 2024/);
  t.is(value(a).explicit, "1970-01-01T00:00:00.000Z");
  t.true(value(a).isDate);
  t.is(value(d).now, 1_000);
});

test("malformed jobs are refused before they reach a child", async (t) => {
  await t.throwsAsync(pool.run({ code: "", entry: "not valid", calls: [{ name: "x" }] }), {
    instanceOf: SandboxInvalidJobError,
  });
  await t.throwsAsync(pool.run({ code: "", calls: [{ name: "x" }] }), {
    instanceOf: SandboxInvalidJobError,
    message: /no function named/,
  });
  await t.throwsAsync(pool.run({ code: "", entry: "f", calls: [{ name: "x", args: [1n] }] }), {
    instanceOf: SandboxInvalidJobError,
    message: /not JSON-serialisable/,
  });
  await t.throwsAsync(pool.run({ code: "x".repeat(300 * 1024), entry: "f", calls: [] }), {
    instanceOf: SandboxInvalidJobError,
    message: /larger than/,
  });
  await t.throwsAsync(pool.run({ code: "", entry: "f", calls: [], limits: { memoryMb: 1 } }), {
    instanceOf: SandboxInvalidJobError,
  });
});
