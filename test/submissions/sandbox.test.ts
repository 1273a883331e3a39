import test from "ava";
import type { PublicSubmission } from "../../contracts/submissions.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  getSubmission,
  graded,
  NEVER_SETTLES,
  SUBMISSION_SERVICES,
  sandboxPool,
  submit,
  submitAndGrade,
} from "./helpers.ts";

// The attack corpus through the whole submission path (API → service → pool → grade →
// database): each ends in a clear result and the service keeps grading. The raw pool's behaviour
// under each attack is checked in test/sandbox/attacks.test.ts; here it is what the learner gets.
const platform = useTestPlatform(test, {
  ...SUBMISSION_SERVICES,
  QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: "1000",
  SUBMISSIONS_CONCURRENT_PER_USER: "100",
});

async function attack(code: string): Promise<PublicSubmission> {
  const api = platform();
  const { tokens } = await api.learner();
  return submitAndGrade(api, tokens.accessToken, "discounted-returns", code);
}

/** Every test message and the job error, for matching. */
const said = (s: PublicSubmission) => [s.error ?? "", ...s.tests.map((x) => x.message)].join("\n");

async function stillServes(t: import("ava").ExecutionContext): Promise<void> {
  const api = platform();
  const { tokens } = await api.learner();
  const ok = await submitAndGrade(
    api,
    tokens.accessToken,
    "discounted-returns",
    SOLUTIONS["discounted-returns"]!,
  );
  t.is(ok.status, "passed");
}

test.serial(
  "a sandbox process killed while it grades: the submission is an error, not retried, and the next is graded",
  async (t) => {
    const api = platform();
    const { tokens } = await api.learner();
    const token = tokens.accessToken;
    const s = await submit(api, token, "discounted-returns", NEVER_SETTLES);
    // The job holds its sandbox until its 5 s wall-clock deadline: the kill must come before it, so
    // the test watches the pool itself (an in-process call), not the submission through the API.
    const before = await waitFor(
      () => sandboxPool(api),
      (pool) => pool.busy === 1,
      "the pool to take the job",
    );
    // Which child has the job is the pool's business: kill both (the other is idle).
    for (const pid of before.pids) process.kill(pid, "SIGKILL");
    const done = await graded(api, token, s.id);
    t.is(done.status, "error");
    t.regex(done.error ?? "", /^crash: the sandbox process exited \(SIGKILL\) and was replaced/);
    const after = await sandboxPool(api);
    t.true(after.replaced >= before.replaced + 1);
    // Never retried: once the pool has graded a later submission, it is still the same error.
    await stillServes(t);
    t.like(await getSubmission(api, token, s.id), { status: "error", error: done.error });
  },
);

test("an infinite loop is stopped and reported as a timeout", async (t) => {
  const s = await attack("function discountedReturns() { for (;;) {} }");
  t.not(s.status, "passed");
  t.regex(
    said(s),
    /timeout: (execution took more than the CPU limit|the job did not finish within its wall-clock)/,
  );
  await stillServes(t);
});

test("a never-resolving promise ends at the wall-clock deadline", async (t) => {
  const s = await attack(NEVER_SETTLES);
  t.is(s.status, "error");
  t.regex(s.error ?? "", /^timeout: the job did not finish within its wall-clock deadline of 5000 ms/);
  await stillServes(t);
});

test("an endless microtask chain is stopped", async (t) => {
  const s = await attack(
    "function discountedReturns() { return Promise.resolve().then(function again() { return Promise.resolve().then(again); }); }",
  );
  t.not(s.status, "passed");
  // Each link keeps the previous promise alive: the CPU limit or the memory limit stops it first.
  t.regex(said(s), /timeout: |memory: the memory limit/);
  await stillServes(t);
});

test("memory bombs end in an error result: string doubling, a huge fill, a huge ArrayBuffer", async (t) => {
  const doubling = await attack(
    "function discountedReturns() { let s = 'x'; const keep = []; for (;;) { s = s + s; s.charCodeAt(0); keep.push(s.slice(1)); } }",
  );
  t.not(doubling.status, "passed");
  // The memory limit; or, on a busy machine, the exercise's 5 s wall-clock deadline first (near its
  // limit V8 collects garbage again and again, which then takes seconds). Either stops it; the memory
  // limit alone is checked on the raw pool, with room to reach it, in test/sandbox/attacks.test.ts.
  t.regex(
    said(doubling),
    /memory: the memory limit of 64 MiB was reached|RangeError: Invalid string length|timeout: the job did not finish within its wall-clock deadline/,
  );

  const fill = await attack("function discountedReturns() { return new Array(1e8).fill(0).length; }");
  t.not(fill.status, "passed");
  t.regex(said(fill), /memory|timeout|RangeError/);

  const buffer = await attack("function discountedReturns() { return new ArrayBuffer(2 ** 31).byteLength; }");
  t.not(buffer.status, "passed");
  t.regex(said(buffer), /RangeError|memory/);
  await stillServes(t);
});

test("deep recursion is a stack overflow in the learner's code", async (t) => {
  const s = await attack("function discountedReturns(r, g) { return discountedReturns(r, g); }");
  t.is(s.status, "failed");
  t.regex(said(s), /RangeError: Maximum call stack size exceeded/);
  await stillServes(t);
});

test("100 MB of console output is capped and flagged", async (t) => {
  const s = await attack(`${SOLUTIONS["discounted-returns"]}
const line = "x".repeat(1024 * 1024);
for (let i = 0; i < 100; i++) console.log(line);`);
  t.is(s.status, "passed");
  t.true(s.consoleTruncated);
  t.true(Buffer.byteLength(s.console) <= 64 * 1024 + 100);
  t.regex(s.console, /\[console output truncated at 65536 bytes\]/);
});

test("a huge return value is refused as a result error", async (t) => {
  const s = await attack("function discountedReturns() { return new Array(3e5).fill(1.5); }");
  // Failed; or an error when a busy machine stretches the ten calls past the job's deadline.
  t.not(s.status, "passed");
  t.regex(said(s), /result: the return value takes more than 1048576 bytes as JSON/);
});

test("escapes find nothing of the host: process, require, import(), constructor.constructor", async (t) => {
  const s = await attack(`function discountedReturns() {
  const found = [];
  found.push(typeof process, typeof require, typeof module, typeof globalThis.process);
  found.push((function () {}).constructor.constructor("return typeof process")());
  try { found.push(typeof this.constructor.constructor("return process")()); } catch (e) { found.push(e.name); }
  return import("node:fs").then(
    () => console.log(JSON.stringify(found.concat("imported"))),
    (e) => console.log(JSON.stringify(found.concat(e.message))),
  );
}`);
  t.is(s.status, "failed");
  // What the code found, as it printed it (the first call's line).
  const line = s.console.split("\n")[0]!;
  t.regex(line, /^\["undefined","undefined","undefined","undefined","undefined",/);
  t.notRegex(line, /imported/);
  t.regex(line, /Not supported/);
});

test("prototype pollution attempts in a returned object do not reach the host", async (t) => {
  const s = await attack(`function discountedReturns() {
  return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
}`);
  t.is(s.status, "failed");
  t.is(({} as Record<string, unknown>)["polluted"], undefined);
  t.regex(said(s), /result: the return value has the wrong shape/);
});

test("Proxy and getter traps in a result run inside the sandbox, and only data leaves", async (t) => {
  const s = await attack(`function discountedReturns(rewards) {
  const target = rewards.map(() => 0);
  return new Proxy(target, { get(o, k) { if (k === "length") return o.length; return 0; } });
}`);
  t.not(s.status, "error");
  const getter = await attack(`function discountedReturns() {
  return { get boom() { for (;;) {} } };
}`);
  t.not(getter.status, "passed");
  t.regex(said(getter), /timeout/);
  await stillServes(t);
});

test("SharedArrayBuffer, Atomics and WebAssembly are not available", async (t) => {
  const s = await attack(
    "function discountedReturns() { console.log(typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly); }",
  );
  t.is(s.status, "failed");
  t.regex(s.console, /^undefined undefined undefined\n/);
});

test("grades do not depend on the clock or on Math.random: the same code gets the same grade", async (t) => {
  const code = `function discountedReturns(rewards) {
  console.log(Date.now(), new Date().toISOString());
  return rewards.map(() => Math.random());
}`;
  const [a, b] = [await attack(code), await attack(code)];
  t.is(a.status, "failed");
  t.deepEqual(
    a.tests.map(({ timeMs: _t, ...rest }) => rest),
    b.tests.map(({ timeMs: _t, ...rest }) => rest),
  );
  t.is(a.console, b.console);
  t.regex(a.console, /^1704067200000 2024-01-01T00:00:00.000Z\n/);
});
