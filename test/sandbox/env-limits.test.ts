import test from "ava";
import {
  capViolation,
  DEFAULT_CUSTOM_ENV_CAPS,
  EnvSession,
  EnvSessionError,
  type EnvSessionLimits,
} from "../../sandbox/index.ts";

// The bounds of an env session beyond one crossing's limits (issue 15, findings 3 and 4): caps on
// what an env may declare, the memory of its whole process, and overall CPU and wall-clock budgets.
// Each test opens its own session (one child process each).

/** An env declaring `spaces`, whose step() burns `work` iterations of CPU and never ends an episode. */
function env(spaces: string, work = 0): string {
  return `function createEnv() {
    return {
      ${spaces},
      maxEpisodeSteps: 100000,
      reset() { return [0]; },
      step() {
        let x = 0;
        for (let i = 0; i < ${work}; i++) x += Math.sqrt(i);
        return { observation: [x > -1 ? 0 : 1], reward: 0, terminated: false };
      },
    };
  }`;
}

const ONE_OBS = `observationSpace: { kind: "box", low: [0], high: [1] }`;
const ROOMY: Partial<EnvSessionLimits> = { memoryMb: 32, callCpuMs: 5000, callWallMs: 10_000 };

async function openFails(code: string, options: Parameters<typeof EnvSession.open>[2]) {
  const error = await EnvSession.open(code, 2, options).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  if (!(error instanceof EnvSessionError))
    throw new Error(`open did not fail with EnvSessionError: ${error}`);
  return error;
}

/** Steps the session until it fails; resolves with the error and the steps that succeeded. */
async function stepUntilFailure(session: EnvSession): Promise<{ error: EnvSessionError; steps: number }> {
  await session.reset([1, 2]);
  let steps = 0;
  for (;;) {
    try {
      await session.step(new Int32Array(2));
      steps++;
    } catch (error) {
      if (!(error instanceof EnvSessionError)) throw error;
      return { error, steps };
    }
  }
}

test("capViolation names the first cap an env declares past, its setting, the limit and the value", (t) => {
  const spec = (actionSpace: object, obs = 1) => ({
    observationSpace: {
      kind: "box" as const,
      shape: [obs],
      low: new Array<number>(obs).fill(0),
      high: new Array<number>(obs).fill(1),
    },
    actionSpace: actionSpace as { kind: "discrete"; n: number },
    maxEpisodeSteps: 10,
    stateful: false,
  });
  t.is(capViolation(spec({ kind: "discrete", n: 1024 }), DEFAULT_CUSTOM_ENV_CAPS), null);
  t.like(capViolation(spec({ kind: "discrete", n: 1_000_000 }), DEFAULT_CUSTOM_ENV_CAPS), {
    cap: "maxDiscreteActions",
    setting: "CODE_ENV_MAX_DISCRETE_ACTIONS",
    limit: 1024,
    value: 1_000_000,
    message: "declares 1000000 discrete actions; at most 1024 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)",
  });
  t.like(capViolation(spec({ kind: "discrete", n: 2 }, 1025), DEFAULT_CUSTOM_ENV_CAPS), {
    setting: "CODE_ENV_MAX_OBSERVATION_SIZE",
    value: 1025,
  });
  const box = { kind: "box", shape: [65], low: new Array(65).fill(-1), high: new Array(65).fill(1) };
  t.like(capViolation(spec(box), DEFAULT_CUSTOM_ENV_CAPS), {
    setting: "CODE_ENV_MAX_ACTION_SIZE",
    limit: 64,
    value: 65,
  });
});

test("an env past a cap fails open with a result error naming the cap; without caps only the contract's limits apply", async (t) => {
  const huge = env(`${ONE_OBS}, actionSpace: { kind: "discrete", n: 1000000 }`);
  const caps = { maxDiscreteActions: 4, maxObservationSize: 8, maxActionSize: 2 };
  const error = await openFails(huge, { limits: ROOMY, caps });
  t.is(error.kind, "result");
  t.is(
    error.message,
    "createEnv() returned an env that declares 1000000 discrete actions; at most 4 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)",
  );
  const wide = env(
    `observationSpace: { kind: "box", low: new Array(9).fill(0), high: new Array(9).fill(1) }, actionSpace: { kind: "discrete", n: 2 }`,
  );
  t.regex(
    (await openFails(wide, { limits: ROOMY, caps })).message,
    /declares 9 observation values; at most 8/,
  );
  const arms = env(`${ONE_OBS}, actionSpace: { kind: "box", low: [-1, -1, -1], high: [1, 1, 1] }`);
  t.regex((await openFails(arms, { limits: ROOMY, caps })).message, /declares 3 action values; at most 2/);

  // A local session (proxima train --env-code) has no platform caps.
  const local = await EnvSession.open(huge, 2, { limits: ROOMY });
  t.teardown(() => local.close());
  t.deepEqual(local.spec.actionSpace, { kind: "discrete", n: 1_000_000 });
});

test("a session past its overall CPU budget fails with a timeout that names the budget, though each step is within its limit", async (t) => {
  const session = await EnvSession.open(
    env(`${ONE_OBS}, actionSpace: { kind: "discrete", n: 2 }`, 200_000),
    2,
    {
      limits: { ...ROOMY, totalCpuMs: 300 },
    },
  );
  t.teardown(() => session.close());
  const { error, steps } = await stepUntilFailure(session);
  t.is(error.kind, "timeout");
  t.is(error.budget, "cpu");
  t.is(error.message, "step() ran out of the session's overall CPU budget of 300 ms");
  // Many crossings passed their own 5 s limit before the budget ran out, and the last one was cut at
  // what was left of the budget: the session's CPU ends near 300 ms, far below one crossing's limit.
  // What is left is given to isolated-vm in whole milliseconds, rounded down (env-isolate.ts
  // cpuTimeout), so the last crossing may stop up to 1 ms short of the budget (299.94 ms was seen).
  t.true(steps > 1, `${steps} steps`);
  t.true(session.cpuTimeMs >= 299 && session.cpuTimeMs < 1300, `${session.cpuTimeMs} ms`);
  t.true(session.closed);
});

test("a session past its overall wall-clock budget is killed and fails with a timeout that names the budget", async (t) => {
  const code = env(`${ONE_OBS}, actionSpace: { kind: "discrete", n: 2 }`, 200_000);
  // The budget runs from the start of the process: on a busy machine it may run out while opening.
  const outcome = await EnvSession.open(code, 2, { limits: { ...ROOMY, totalWallMs: 4000 } }).then(
    async (session) => {
      t.teardown(() => session.close());
      return (await stepUntilFailure(session)).error;
    },
    (error: unknown) => error,
  );
  t.true(outcome instanceof EnvSessionError);
  const error = outcome as EnvSessionError;
  t.is(error.kind, "timeout");
  t.is(error.budget, "wall");
  t.regex(
    error.message,
    /^the session ran past its overall wall-clock budget of 4000 ms; its process was killed$/,
  );
});

test("a session whose process grows past processMemoryMb fails with a memory error that names the limit", async (t) => {
  // 128 MiB held by the isolate, within its own 512 MiB limit, but not within the process's 160 MiB.
  const code = `const ballast = new Float64Array(16 * 1024 * 1024).fill(1);
  ${env(`${ONE_OBS}, actionSpace: { kind: "discrete", n: 2 }`)}`;
  const error = await openFails(code, { limits: { ...ROOMY, memoryMb: 512, processMemoryMb: 160 } });
  t.is(error.kind, "memory");
  t.regex(error.message, /^the session's process uses \d+ MiB, more than its limit of 160 MiB$/);
  // The same env in a process allowed 512 MiB opens.
  const session = await EnvSession.open(code, 2, {
    limits: { ...ROOMY, memoryMb: 512, processMemoryMb: 512 },
  });
  t.teardown(() => session.close());
  t.is(session.numEnvs, 2);
});
