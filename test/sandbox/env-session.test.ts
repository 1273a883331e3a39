import { readdirSync, readFileSync } from "node:fs";
import test, { type ExecutionContext } from "ava";
import { EnvSession, EnvSessionError, type EnvSessionLimits } from "../../sandbox/index.ts";
import { waitUntil } from "../helpers/wait.ts";

// Each test opens its own session (one child process each): a failure breaks a session for good.
// Time limits are roomy (a busy two-core machine stretches isolated-vm's timeouts) except where a
// timeout is the point.

/** Gymnasium's CartPole-v1 in plain JavaScript, with a seeded Mulberry32 stream per instance. */
function cartPole(maxEpisodeSteps = 500): string {
  return `
const MAX_STEPS = ${maxEpisodeSteps};
function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.state = () => a;
  return next;
}
function createEnv() {
  let s = [0, 0, 0, 0];
  let random = mulberry32(0);
  return {
    observationSpace: { kind: "box", low: [-4.8, -Infinity, -0.419, -Infinity], high: [4.8, Infinity, 0.419, Infinity] },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: MAX_STEPS,
    reset(seed) {
      if (seed !== undefined) random = mulberry32(seed);
      s = [0, 0, 0, 0].map(() => random() * 0.1 - 0.05);
      return new Float64Array(s);
    },
    step(action) {
      const [x, xDot, theta, thetaDot] = s;
      const force = action === 1 ? 10 : -10;
      const cos = Math.cos(theta), sin = Math.sin(theta);
      const temp = (force + 0.05 * thetaDot * thetaDot * sin) / 1.1;
      const thetaAcc = (9.8 * sin - cos * temp) / (0.5 * (4 / 3 - (0.1 * cos * cos) / 1.1));
      const xAcc = temp - (0.05 * thetaAcc * cos) / 1.1;
      s = [x + 0.02 * xDot, xDot + 0.02 * xAcc, theta + 0.02 * thetaDot, thetaDot + 0.02 * thetaAcc];
      const terminated = Math.abs(s[0]) > 2.4 || Math.abs(s[2]) > 0.2095;
      return { observation: s, reward: 1, terminated };
    },
    getState() { return { s, random: random.state() }; },
    setState(state) { s = state.s; random = mulberry32(state.random); },
  };
}`;
}

/**
 * obs = [count] after a step and [seed] (or -resets when unseeded) after a reset; action 1 terminates,
 * action 2 truncates (the env's own flag), anything else continues.
 */
const COUNTER = `
function createEnv() {
  let count = 0;
  let resets = 0;
  return {
    observationSpace: { kind: "box", low: [-Infinity], high: [Infinity] },
    actionSpace: { kind: "discrete", n: 3 },
    maxEpisodeSteps: 3,
    reset(seed) { resets++; count = 0; return [seed === undefined ? -resets : seed]; },
    step(action) { count++; return { observation: [count], reward: count / 2, terminated: action === 1, truncated: action === 2 }; },
  };
}`;

/** A CartPole whose step() is replaced by `step` (source of a method body taking `action`). */
function brokenStep(step: string, extra = ""): string {
  return `${cartPole()}
let created = 0;
const makeCartPole = createEnv;
createEnv = function () {
  const env = makeCartPole();
  const id = created++;
  ${extra}
  env.step = function (action) {
    ${step}
  };
  return env;
};`;
}

const ROOMY: Partial<EnvSessionLimits> = { memoryMb: 32, callCpuMs: 5000, callWallMs: 10_000 };

async function open(
  t: ExecutionContext,
  code: string,
  numEnvs: number,
  limits: Partial<EnvSessionLimits> = ROOMY,
): Promise<EnvSession> {
  const session = await EnvSession.open(code, numEnvs, { limits });
  t.teardown(() => session.close());
  return session;
}

async function openFails(
  t: ExecutionContext,
  code: string,
  numEnvs = 2,
  limits: Partial<EnvSessionLimits> = ROOMY,
): Promise<EnvSessionError> {
  const error = await t.throwsAsync(EnvSession.open(code, numEnvs, { limits }), {
    instanceOf: EnvSessionError,
  });
  return error!;
}

/** Steps a fresh session with `actions` until it fails, and checks that it closed itself. */
async function stepFails(
  t: ExecutionContext,
  session: EnvSession,
  actions = new Int32Array(session.numEnvs),
): Promise<EnvSessionError> {
  await session.reset(Array.from({ length: session.numEnvs }, (_, i) => i));
  const error = await t.throwsAsync(session.step(actions), { instanceOf: EnvSessionError });
  t.true(session.closed);
  // Broken for good: every later call rejects with the very same error.
  t.is(await t.throwsAsync(session.reset(new Array(session.numEnvs).fill(0))), error);
  await session.close();
  t.false(alive(session.pid!));
  return error!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Env-session children of this process that are still alive (Linux /proc). */
function sessionChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("env-child"))
        pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const row = (a: Float32Array, i: number, dim: number) => Array.from(a.subarray(i * dim, (i + 1) * dim));

// Serial tests run before the others: no other session's child is alive yet.
test.serial("an open that fails leaves no process behind", async (t) => {
  await openFails(t, "function createEnv( {");
  const loop = await openFails(t, "function createEnv() { for (;;) {} }", 2, { callCpuMs: 200 });
  t.is(loop.kind, "timeout");
  t.is(
    loop.message,
    "createEnv() did not finish within the CPU limit of 200 ms (it was running createEnv())",
  );
  t.deepEqual(sessionChildren(), []);
  const session = await EnvSession.open(cartPole(), 1, { limits: ROOMY });
  t.deepEqual(sessionChildren(), [session.pid]);
  await session.close();
  t.deepEqual(sessionChildren(), []);
});

test("a CartPole env opens with its declared spec, and resets reproduce their seeds", async (t) => {
  const session = await open(t, cartPole(), 3);
  t.deepEqual(session.spec, {
    observationSpace: {
      kind: "box",
      shape: [4],
      low: [-4.8, null, -0.419, null],
      high: [4.8, null, 0.419, null],
    },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: 500,
    stateful: true,
  });
  t.is(session.numEnvs, 3);
  t.is(session.obsDim, 4);
  t.is(session.actDim, 1);
  const first = await session.reset([7, 7, 8]);
  t.true(first instanceof Float32Array);
  t.is(first.length, 12);
  t.deepEqual(row(first, 0, 4), row(first, 1, 4));
  t.notDeepEqual(row(first, 0, 4), row(first, 2, 4));
  t.true(first.every((v) => Math.abs(v) <= 0.05));
  t.deepEqual(await session.reset([7, 7, 8]), first);
  // Another session (another process) from the same seeds starts the same episodes.
  const other = await open(t, cartPole(), 3);
  t.deepEqual(await other.reset([7, 7, 8]), first);
});

test("a step autoresets finished envs inside the crossing and truncates at the time limit", async (t) => {
  const session = await open(t, COUNTER, 3);
  t.deepEqual(Array.from(await session.reset([10, 20, 30])), [10, 20, 30]);

  const a = await session.step(new Int32Array([0, 1, 2]));
  t.deepEqual(Array.from(a.observations), [1, -2, -2], "envs 1 and 2 are already in their next episode");
  t.deepEqual(Array.from(a.finalObservations), [0, 1, 1]);
  t.deepEqual(Array.from(a.hasFinal), [0, 1, 1]);
  t.deepEqual(Array.from(a.terminated), [0, 1, 0]);
  t.deepEqual(Array.from(a.truncated), [0, 0, 1]);
  t.deepEqual(Array.from(a.rewards), [0.5, 0.5, 0.5]);

  const b = await session.step(new Int32Array([0, 0, 0]));
  t.deepEqual(Array.from(b.observations), [2, 1, 1]);
  t.deepEqual(Array.from(b.hasFinal), [0, 0, 0]);
  t.deepEqual(Array.from(b.finalObservations), [0, 0, 0]);

  // Env 0 reaches maxEpisodeSteps = 3: truncated by the TimeLimit, even on a terminating step (env 1).
  const c = await session.step(new Int32Array([0, 1, 0]));
  t.deepEqual(Array.from(c.observations), [-2, -3, 2]);
  t.deepEqual(Array.from(c.finalObservations), [3, 2, 0]);
  t.deepEqual(Array.from(c.hasFinal), [1, 1, 0]);
  t.deepEqual(Array.from(c.terminated), [0, 1, 0]);
  t.deepEqual(Array.from(c.truncated), [1, 0, 0]);

  const d = await session.step(new Int32Array([0, 0, 0]));
  t.deepEqual(Array.from(d.truncated), [0, 0, 1], "env 2's episode is 3 steps long now");
  t.deepEqual(Array.from(d.finalObservations), [0, 0, 3]);
});

test("CartPole episodes end, autoreset and keep their own random streams", async (t) => {
  const session = await open(t, cartPole(20), 2);
  await session.reset([1, 2]);
  const lengths = [0, 0];
  let terminations = 0;
  let truncations = 0;
  for (let k = 0; k < 100; k++) {
    // Env 0 always pushes right and falls; env 1 alternates and lasts until the time limit.
    const out = await session.step(new Int32Array([1, k % 2]));
    for (let i = 0; i < 2; i++) {
      lengths[i]++;
      t.is(out.hasFinal[i], out.terminated[i] | out.truncated[i]);
      if (out.truncated[i] === 1) t.is(lengths[i], 20);
      if (lengths[i] === 20) t.is(out.hasFinal[i], 1);
      if (out.hasFinal[i] === 1) {
        const final = row(out.finalObservations, i, 4);
        if (out.terminated[i] === 1) t.true(Math.abs(final[0]!) > 2.4 || Math.abs(final[2]!) > 0.2095);
        t.true(row(out.observations, i, 4).every((v) => Math.abs(v) <= 0.05));
        terminations += out.terminated[i]!;
        truncations += out.truncated[i]!;
        lengths[i] = 0;
      } else {
        t.deepEqual(row(out.finalObservations, i, 4), [0, 0, 0, 0]);
      }
    }
  }
  t.true(terminations > 0 && truncations > 0, `${terminations} terminations, ${truncations} truncations`);
});

test("getStates and setStates resume the continuation exactly, episode lengths included", async (t) => {
  const session = await open(t, cartPole(12), 2);
  await session.reset([3, 4]);
  const actions = (k: number) => new Int32Array([k % 3 === 0 ? 1 : 0, 1]);
  const lengths = [0, 0];
  for (let k = 0; k < 7; k++) {
    const out = await session.step(actions(k));
    for (let i = 0; i < 2; i++) lengths[i] = out.hasFinal[i] ? 0 : lengths[i]! + 1;
  }
  const saved = await session.getStates();
  t.deepEqual(
    saved.map((s) => s.elapsed),
    lengths,
  );
  // The states are plain JSON data (they are stored in checkpoints).
  const stored = JSON.parse(JSON.stringify(saved));
  const trace = async () => {
    const out = [];
    for (let k = 7; k < 25; k++) {
      const r = await session.step(actions(k));
      out.push({
        obs: Array.from(r.observations),
        final: Array.from(r.finalObservations),
        flags: [...r.terminated, ...r.truncated],
      });
    }
    return out;
  };
  const first = await trace();
  await session.setStates(stored);
  t.deepEqual(await trace(), first);
  t.true(
    first.some((s) => s.flags[2] === 1 || s.flags[3] === 1),
    "the continuation crosses an episode end",
  );
});

test("box actions reach the env as plain arrays of numbers, clipped to the bounds", async (t) => {
  const session = await open(
    t,
    `function createEnv() {
      return {
        observationSpace: { kind: "box", low: [-1, -1, 0], high: [1, 1, 1] },
        actionSpace: { kind: "box", low: [-1, -0.5], high: [1, 0.5] },
        maxEpisodeSteps: 10,
        reset() { return [0, 0, 0]; },
        step(a) { return { observation: [a[0], a[1], Array.isArray(a) && typeof a[0] === "number" ? 1 : 0], reward: 0, terminated: false }; },
      };
    }`,
    2,
  );
  t.is(session.actDim, 2);
  t.false(session.spec.stateful);
  await session.reset([undefined, undefined]);
  const out = await session.step(new Float32Array([5, -5, 0.25, 0.125]));
  t.deepEqual(Array.from(out.observations), [1, -0.5, 1, 0.25, 0.125, 1]);
});

test("a caller's mistakes reject without breaking the session", async (t) => {
  const session = await open(t, cartPole(), 2);
  await t.throwsAsync(session.step(new Int32Array(2)), { message: /reset\(\)/ });
  await t.throwsAsync(session.reset([1]), { instanceOf: RangeError });
  await session.reset([1, 2]);
  await t.throwsAsync(session.step(new Float32Array(2) as unknown as Int32Array), { instanceOf: TypeError });
  await t.throwsAsync(session.step(new Int32Array([0, 2])), { instanceOf: RangeError });
  await t.throwsAsync(
    session.setStates([
      { env: {}, elapsed: 500 },
      { env: {}, elapsed: 0 },
    ]),
    {
      instanceOf: RangeError,
    },
  );
  const busy = session.step(new Int32Array(2));
  await t.throwsAsync(session.step(new Int32Array(2)), { message: /one call at a time/ });
  await busy;
  t.false(session.closed);
  t.is((await session.step(new Int32Array(2))).observations.length, 8);
});

test("a syntax error fails open with kind syntax and its location", async (t) => {
  const error = await openFails(t, "function createEnv() {\n  return {;\n}");
  t.is(error.kind, "syntax");
  t.regex(error.message, /^the script does not compile: SyntaxError: .*\[submission\.js:2:\d+\]$/);
  const imports = await openFails(t, "import fs from 'node:fs';\nfunction createEnv() {}");
  t.is(imports.kind, "syntax");
});

test("a script without createEnv() fails open", async (t) => {
  const error = await openFails(t, "function makeEnv() { return {}; }");
  t.is(error.kind, "runtime");
  t.is(error.message, "the submission declares no top-level function createEnv()");
  const thrown = await openFails(t, "function createEnv() { return {}; }\nundefinedThing();");
  t.is(thrown.kind, "runtime");
  t.regex(
    thrown.message,
    /^the script's top level threw ReferenceError: undefinedThing is not defined \(submission\.js:2:1\)$/,
  );
});

test("spaces that break the contract, or differ between instances, fail open with a clear message", async (t) => {
  const mismatch = await openFails(
    t,
    `let calls = 0;
    function createEnv() {
      const dim = calls++ === 0 ? 2 : 3;
      return {
        observationSpace: { kind: "box", low: new Array(dim).fill(-1), high: new Array(dim).fill(1) },
        actionSpace: { kind: "discrete", n: 2 }, maxEpisodeSteps: 10,
        reset() { return new Array(dim).fill(0); }, step() {},
      };
    }`,
    4,
  );
  t.is(mismatch.kind, "result");
  t.is(
    mismatch.message,
    "createEnv() call 1 returned an env whose observationSpace differs from that of call 0: every instance must declare the same spaces and maxEpisodeSteps",
  );
  const env = (fields: string) =>
    `function createEnv() { return { actionSpace: { kind: "discrete", n: 2 }, maxEpisodeSteps: 10, reset() {}, step() {}, ${fields} }; }`;
  const lengths = await openFails(t, env(`observationSpace: { kind: "box", low: [0, 0, 0], high: [1, 1] }`));
  t.is(lengths.message, "createEnv() returned an observationSpace whose low has 3 values and high 2");
  const inverted = await openFails(t, env(`observationSpace: { kind: "box", low: [0, 2], high: [1, 1] }`));
  t.is(
    inverted.message,
    "createEnv() returned an observationSpace whose low[1] (2) is greater than high[1] (1)",
  );
  const steps = await openFails(
    t,
    `function createEnv() { return { observationSpace: { kind: "box", low: [0], high: [1] }, actionSpace: { kind: "discrete", n: 0 }, maxEpisodeSteps: 10, reset() {}, step() {} }; }`,
  );
  t.regex(
    steps.message,
    /^createEnv\(\) returned an actionSpace whose n is 0: a discrete space needs a positive integer n/,
  );
});

test("an observation of the wrong length breaks the session with a result error", async (t) => {
  const session = await open(
    t,
    brokenStep("return { observation: id === 1 ? [1, 2, 3] : [0, 0, 0, 0], reward: 1, terminated: false };"),
    2,
  );
  const error = await stepFails(t, session);
  t.is(error.kind, "result");
  t.is(error.message, "step() of env 1 returned an observation of 3 values; the observationSpace has 4");
});

test("a NaN reward breaks the session with a result error", async (t) => {
  const session = await open(
    t,
    brokenStep("return { observation: [0, 0, 0, 0], reward: 0 / 0, terminated: false };"),
    2,
  );
  const error = await stepFails(t, session);
  t.is(error.kind, "result");
  t.is(error.message, "step() of env 0 returned a reward of NaN, not a finite number");
});

test("a step that throws names the env and the submission's line", async (t) => {
  const code = brokenStep(
    "if (id === 2) {\n    const broken = null;\n    return broken.observation;\n  }\n  return { observation: [0, 0, 0, 0], reward: 1, terminated: false };",
  );
  const session = await open(t, code, 3);
  const error = await stepFails(t, session);
  t.is(error.kind, "runtime");
  t.regex(
    error.message,
    /^step\(\) of env 2 threw TypeError: Cannot read properties of null \(reading 'observation'\) \(submission\.js:\d+:\d+\)$/,
  );
  const line = Number(/submission\.js:(\d+)/.exec(error.message)![1]);
  t.regex(code.split("\n")[line - 1]!, /return broken\.observation;/);
});

test("an infinite loop in step is cut at the CPU limit and closes the session", async (t) => {
  const session = await open(
    t,
    brokenStep(
      "if (id === 1) for (;;) {}\n  return { observation: [0, 0, 0, 0], reward: 1, terminated: false };",
    ),
    2,
    {
      callCpuMs: 200,
    },
  );
  const pid = session.pid!;
  const error = await stepFails(t, session);
  t.is(error.kind, "timeout");
  t.is(
    error.message,
    "step() did not finish within the CPU limit of 200 ms (it was running step() of env 1)",
  );
  t.false(alive(pid));
});

test("an Array#fill that ignores termination is ended by the host's wall-clock deadline", async (t) => {
  const session = await open(
    t,
    brokenStep("return { observation: new Array(1e8).fill(0), reward: 1, terminated: false };"),
    1,
    {
      callCpuMs: 200,
      callWallMs: 500,
    },
  );
  const error = await stepFails(t, session);
  // Depending on where the fill is when it is stopped, the isolate runs out of memory or the child is killed.
  t.true(error.kind === "timeout" || error.kind === "memory", error.message);
});

test("a memory bomb in step ends with a memory error", async (t) => {
  const session = await open(
    t,
    brokenStep("const keep = []; for (;;) keep.push(new Array(1e5).fill(keep.length + 0.5));"),
    2,
    { memoryMb: 32, callCpuMs: 15_000, callWallMs: 20_000 },
  );
  const error = await stepFails(t, session);
  t.is(error.kind, "memory");
  t.is(error.message, "step() reached the memory limit of 32 MiB");
});

test("a step returning a promise is refused: env methods are synchronous", async (t) => {
  const session = await open(
    t,
    brokenStep("return Promise.resolve({ observation: [0, 0, 0, 0], reward: 1, terminated: false });"),
    2,
  );
  const error = await stepFails(t, session);
  t.is(error.kind, "result");
  t.is(
    error.message,
    "step() of env 0 returned a promise: createEnv() and the env's methods must be synchronous (no async functions, no promises)",
  );
  const asyncReset = await openFails(t, `async function createEnv() { return {}; }`);
  t.regex(asyncReset.message, /^createEnv\(\) returned a promise/);
});

test("the env sees no process, require or host objects", async (t) => {
  const session = await open(
    t,
    `${cartPole()}
    const probe = () => {
      let viaFunction;
      try { constructor.constructor("return process")(); viaFunction = "found"; } catch (e) { viaFunction = e instanceof ReferenceError ? "undefined" : "other"; }
      const g = Function("return this")();
      return [typeof process, typeof require, typeof module, typeof Buffer, typeof setTimeout, typeof g.ivm, typeof SharedArrayBuffer, typeof WebAssembly, viaFunction]
        .map((k) => (k === "undefined" ? 0 : 1));
    };
    const original = createEnv;
    createEnv = () => {
      const env = original();
      env.observationSpace = { kind: "box", low: new Array(9).fill(0), high: new Array(9).fill(1) };
      env.reset = () => probe();
      env.step = () => { require("node:fs"); };
      return env;
    };`,
    1,
  );
  t.deepEqual(Array.from(await session.reset([0])), new Array(9).fill(0));
  const error = await t.throwsAsync(session.step(new Int32Array(1)), { instanceOf: EnvSessionError });
  t.regex(
    error!.message,
    /^step\(\) of env 0 threw ReferenceError: require is not defined \(submission\.js:\d+:\d+\)$/,
  );
});

test("console output is captured across calls and capped over the session", async (t) => {
  const session = await open(
    t,
    `console.log("loaded");
    ${brokenStep(`console.log("step " + id + " " + "x".repeat(100)); return { observation: [0, 0, 0, 0], reward: 1, terminated: false };`)}`,
    2,
    { ...ROOMY, maxConsoleBytes: 1000 },
  );
  t.is(session.drainConsole(), "loaded\n");
  await session.reset([1, 2]);
  t.is(session.drainConsole(), "");
  await session.step(new Int32Array(2));
  const line = (id: number) => `step ${id} ${"x".repeat(100)}\n`;
  t.is(session.drainConsole(), line(0) + line(1));
  for (let k = 0; k < 10; k++) await session.step(new Int32Array(2));
  const rest = session.drainConsole();
  t.true(rest.endsWith("\n[console output truncated at 1000 bytes]\n"));
  const kept = rest.slice(0, rest.indexOf("\n[console output truncated"));
  t.is(Buffer.byteLength(kept), 1000 - "loaded\n".length - 2 * line(0).length);
  await session.step(new Int32Array(2));
  t.is(session.drainConsole(), "");
});

test("close() kills the child, is idempotent, and later calls reject", async (t) => {
  const session = await EnvSession.open(cartPole(), 2, { limits: ROOMY });
  const pid = session.pid!;
  t.true(alive(pid));
  await session.reset([1, 2]);
  t.false(session.closed);
  await session.close();
  t.true(session.closed);
  t.false(alive(pid));
  await session.close();
  await t.throwsAsync(session.step(new Int32Array(2)), { message: "the env session is closed" });
});

test("a session whose process dies is broken with a crash error", async (t) => {
  const session = await open(t, cartPole(), 1);
  await session.reset([1]);
  process.kill(session.pid!, "SIGKILL");
  // The session learns of the death from the process's exit.
  await waitUntil(() => session.closed, "the session to see its process die");
  const error = await t.throwsAsync(session.step(new Int32Array(1)), { instanceOf: EnvSessionError });
  t.is(error!.kind, "crash");
  t.regex(error!.message, /SIGKILL/);
  t.true(session.closed);
});
