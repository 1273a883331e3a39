import test from "ava";
import { OverloadedError } from "../../lib/errors.ts";
import { HashGate } from "../../services/users/hash-gate.ts";
import { setHashGate } from "../../services/users/passwords.ts";
import { ManualClock } from "../actors/helpers/clock.ts";
import { startTestPlatform } from "../helpers/platform.ts";

/** A piece of work that ends when the test says so. */
function held<T>(value: T) {
  let release!: () => void;
  const done = new Promise<T>((resolve) => {
    release = () => resolve(value);
  });
  return { work: () => done, release };
}

test("the gate runs `concurrency` at once, queues up to `maxQueue` in order, and refuses the next at once with a 503", async (t) => {
  const gate = new HashGate({ concurrency: 2, maxQueue: 1, maxWaitMs: 5_000 }, new ManualClock());
  const a = held("a");
  const b = held("b");
  const c = held("c");
  const first = gate.run(a.work);
  const second = gate.run(b.work);
  const queued = gate.run(c.work);
  t.deepEqual(gate.load, { running: 2, waiting: 1 });
  const refused = await t.throwsAsync(
    gate.run(async () => "d"),
    { instanceOf: OverloadedError },
  );
  t.is(refused.code, 503);
  t.is(refused.data.retryAfter, 5);

  a.release();
  t.is(await first, "a");
  // The queued work took the freed turn: still two running, none waiting.
  t.deepEqual(gate.load, { running: 2, waiting: 0 });
  b.release();
  c.release();
  t.deepEqual(await Promise.all([second, queued]), ["b", "c"]);
  t.deepEqual(gate.load, { running: 0, waiting: 0 });
});

test("work that waits longer than maxWaitMs is refused and never runs", async (t) => {
  const clock = new ManualClock();
  const gate = new HashGate({ concurrency: 1, maxQueue: 4, maxWaitMs: 2_000 }, clock);
  const a = held("a");
  const running = gate.run(a.work);
  let ran = false;
  const waiting = gate.run(async () => {
    ran = true;
  });
  clock.advance(1_999);
  t.deepEqual(gate.load, { running: 1, waiting: 1 });
  clock.advance(1);
  await t.throwsAsync(waiting, { instanceOf: OverloadedError });
  t.deepEqual(gate.load, { running: 1, waiting: 0 });
  a.release();
  await running;
  t.false(ran, "the caller was answered already: its hash is not computed for nobody");
});

test("POST /auth/login answers 503 with Retry-After while the node's hashing is full, and a shed login costs no failed-login budget", async (t) => {
  const api = await startTestPlatform(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: "3" });
  const me = await api.register();
  // This process's gate, with its one turn taken by work the test holds.
  const gate = new HashGate({ concurrency: 1, maxQueue: 0, maxWaitMs: 3_000 });
  const blocker = held(undefined);
  const busy = gate.run(blocker.work);
  setHashGate(gate);
  t.teardown(() => setHashGate(null));

  for (let i = 0; i < 5; i++) {
    const res = await api.request<{ type: string; status: number; retryAfter: number }>(
      "POST",
      "/api/v1/auth/login",
      {
        body: { email: me.email, password: me.password },
      },
    );
    t.is(res.status, 503);
    t.is(res.headers.get("retry-after"), "3");
    t.is(res.body.type, "urn:proxima:problem:overloaded");
  }
  blocker.release();
  await busy;
  // Five shed attempts against a budget of three: had they counted, this would be a 429.
  const ok = await api.request("POST", "/api/v1/auth/login", {
    body: { email: me.email, password: me.password },
  });
  t.is(ok.status, 200);
});
