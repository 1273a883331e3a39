import test from "ava";
import { SandboxBusyError, SandboxClosedError, SandboxPool } from "../../sandbox/index.ts";
import { waitFor } from "../helpers/wait.ts";
import { assertStillServes, TEST_POOL_OPTIONS, TIGHT } from "./helpers.ts";

// Each test owns its pool: they kill and stop children, and count them.

async function busyPid(pool: SandboxPool): Promise<number> {
  const stats = await waitFor(
    () => pool.stats(),
    (s) => s.busy === 1 && s.pids.length === 1,
    "the pool's one child to take the job",
  );
  return stats.pids[0]!;
}

const SPIN = {
  code: "function f() { for (;;) {} }",
  entry: "f",
  calls: [{ name: "spin" }],
  limits: { cpuTimeMs: 20_000, wallTimeMs: 30_000 },
};

test("a child killed in the middle of a job is reported as a crash, replaced, and the pool keeps serving", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 1 });
  t.teardown(() => pool.close());
  await pool.ready();
  const running = pool.run(SPIN);
  const pid = await busyPid(pool);
  process.kill(pid, "SIGKILL");
  const result = await running;
  t.is(result.status, "error");
  t.is(result.error?.kind, "crash");
  t.regex(result.error?.message ?? "", /SIGKILL.*replaced/);
  t.deepEqual(
    result.calls.map((c) => !c.ok && c.error.kind),
    ["crash"],
  );
  await assertStillServes(t, pool);
  const stats = pool.stats();
  t.is(stats.replaced, 1);
  t.false(stats.pids.includes(pid));
});

test("a child that stops answering is killed after its deadline and grace, and replaced", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 1, graceMs: 300 });
  t.teardown(() => pool.close());
  await pool.ready();
  const running = pool.run({ ...SPIN, limits: { cpuTimeMs: 5000, wallTimeMs: 500 } });
  const pid = await busyPid(pool);
  // A stopped process cannot run its own deadline timer: only the pool's can end the job.
  process.kill(pid, "SIGSTOP");
  const result = await running;
  t.is(result.status, "error");
  t.is(result.error?.kind, "timeout");
  t.regex(result.error?.message ?? "", /its process was replaced/);
  await assertStillServes(t, pool);
  t.false(pool.stats().pids.includes(pid));
});

test("fifty concurrent jobs on a pool of two are all answered, each with its own result", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 2, maxQueue: 100 });
  t.teardown(() => pool.close());
  let maxBusy = 0;
  const watcher = setInterval(() => {
    maxBusy = Math.max(maxBusy, pool.stats().busy);
  }, 1);
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      pool.run({
        code: `function square(x) { console.log("job ${i}"); return x * x; }`,
        entry: "square",
        calls: [{ name: `job-${i}`, args: [i] }],
      }),
    ),
  );
  clearInterval(watcher);
  t.deepEqual(
    results.map((r) => r.calls[0].ok && r.calls[0].value),
    Array.from({ length: 50 }, (_, i) => i * i),
  );
  t.deepEqual(
    results.map((r) => r.console),
    Array.from({ length: 50 }, (_, i) => `job ${i}\n`),
  );
  t.true(maxBusy <= 2);
  t.is(pool.stats().pids.length, 2);
});

test("jobs beyond the bounded queue are refused with SandboxBusyError", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 1, maxQueue: 2 });
  t.teardown(() => pool.close());
  await pool.ready();
  const job = { code: "function f() { return 1; }", entry: "f", calls: [{ name: "f" }] };
  const accepted = [pool.run(job), pool.run(job), pool.run(job)];
  await t.throwsAsync(pool.run(job), { instanceOf: SandboxBusyError });
  const results = await Promise.all(accepted);
  t.deepEqual(
    results.map((r) => r.status),
    ["ok", "ok", "ok"],
  );
  await assertStillServes(t, pool);
});

test("close lets running jobs finish, rejects queued and later ones, and stops every child", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 1 });
  await pool.ready();
  const pid = pool.stats().pids[0];
  const running = pool.run({
    code: "function f() { let x = 0; for (let i = 0; i < 2e6; i++) x += i; return x; }",
    entry: "f",
    calls: [{ name: "f" }],
  });
  const queued = pool.run({ code: "function f() {}", entry: "f", calls: [{ name: "f" }] });
  const closing = pool.close();
  await t.throwsAsync(queued, { instanceOf: SandboxClosedError });
  await t.throwsAsync(pool.run({ code: "", calls: [] }), { instanceOf: SandboxClosedError });
  const result = await running;
  t.is(result.calls[0].ok && result.calls[0].value, 1999999000000);
  await closing;
  t.deepEqual(pool.stats().pids, []);
  t.throws(() => process.kill(pid, 0), { code: "ESRCH" });
});

test("a child whose isolate cannot be stopped is replaced after answering", async (t) => {
  const pool = new SandboxPool({ ...TEST_POOL_OPTIONS, size: 1 });
  t.teardown(() => pool.close());
  await pool.ready();
  const pid = pool.stats().pids[0];
  // Array#fill over a dictionary-mode array never checks for termination.
  const result = await pool.run({
    code: "function f() { return new Array(1e8).fill(0).length; }",
    entry: "f",
    calls: [{ name: "f" }],
    limits: TIGHT,
  });
  t.is(result.status, "error");
  await assertStillServes(t, pool);
  t.false(pool.stats().pids.includes(pid));
});
