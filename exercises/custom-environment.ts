import { Rng } from "../rl/core/rng.ts";
import { contains, sample } from "../rl/core/spaces.ts";
import type { Space } from "../rl/core/types.ts";
import { type CodeEnvSpec, codeEnvSpaces } from "../rl/envs/code-env.ts";
import {
  DEFAULT_CUSTOM_ENV_CAPS,
  EnvSession,
  EnvSessionError,
  type EnvSessionLimits,
} from "../sandbox/env-session.ts";
import { GRADING_NOW, report, round } from "./grading.ts";
import type { EnvCheckBudget, Exercise, GradeReport, GradingContext, TestOutcome } from "./types.ts";

/**
 * "Bring your own environment": the learner submits an environment as code, and its grade is a check
 * of Gymnasium's env API contract, after Gymnasium's `check_env` (gymnasium/utils/env_checker.py):
 * declared spaces, observations inside the observation space, finite rewards, the same episode from the
 * same seed, episodes that end within the time limit, and, when the env has getState/setState, a
 * restored state that continues identically. A passed submission is an env id, `custom:<id>`, that
 * runs can train on: its sub-envs then step in isolates on the rollout workers.
 *
 * The checks run in an EnvSession of their own (one sandbox process, two instances of the env), not
 * in the grading pool: an environment is a long-lived object stepped many times, not a function call.
 */

export const CUSTOM_ENVIRONMENT_EXERCISE = "custom-environment";

/**
 * Limits of each crossing of the check; the rollout workers use their own (CODE_ENV_CALL_CPU_MS). The
 * memory limits are the workers' (CODE_ENV_MEMORY_MB, CODE_ENV_PROCESS_MEMORY_MB) when the grading
 * node passes them: an env that passes its check must fit a runner.
 */
const LIMITS: EnvSessionLimits = {
  memoryMb: 64,
  callCpuMs: 1000,
  callWallMs: 5000,
  maxConsoleBytes: 16 * 1024,
  processMemoryMb: 512,
};
/**
 * The whole check (SUBMISSIONS_ENV_CHECK_CPU_MS / _WALL_MS): each crossing is bounded by its own
 * limits, but 20,000 crossings of 0.6 s each held a node's env-check lane for hours (issue 15,
 * finding 4). 30 s of CPU is 1.5 ms per step of both envs over the whole 20,000 steps.
 */
export const DEFAULT_ENV_CHECK_BUDGET: EnvCheckBudget = { cpuMs: 30_000, wallMs: 60_000 };
/** Episodes stepped to their end, and the most steps spent doing it (a time limit can be 100,000). */
const EPISODES = 3;
const MAX_CHECK_STEPS = 20_000;
const CHECK_SEED = 12_345;
/** Steps taken before a getState/setState round trip is checked, and after it. */
const STATE_STEPS = 5;

const STARTER = `// A corridor of 10 cells: start near the left end, reach the right end.
// Observation: [position / 10]; actions: 0 = left, 1 = right; reward -0.1 per step, +1 at the goal.
function createEnv() {
  let position = 0;
  let random = mulberry32(0);
  return {
    observationSpace: { kind: "box", low: [0], high: [1] },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: 100,
    reset(seed) {
      // Each instance keeps its own generator: Math.random is shared by every env in the sandbox.
      if (seed !== undefined) random = mulberry32(seed);
      position = Math.floor(random() * 4);
      return [position / 10];
    },
    step(action) {
      position = Math.min(10, Math.max(0, position + (action === 1 ? 1 : -1)));
      const terminated = position === 10;
      return { observation: [position / 10], reward: terminated ? 1 : -0.1, terminated, truncated: false };
    },
    getState() {
      return { position, random: random.state() };
    },
    setState(state) {
      position = state.position;
      random = mulberry32(state.random);
    },
  };
}

// Mulberry32 (Tommy Ettinger, public domain): a small seeded generator whose state is one integer.
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
`;

const STATEMENT = `# Bring your own environment

Write a reinforcement-learning environment in JavaScript; once it passes these checks, train PPO on it
like on any built-in environment: the passed submission's env id is \`custom:<submission id>\` (the
submission's \`envId\`), usable in \`POST /api/v1/runs\`.

## The contract (Gymnasium's \`Env\` API, in JavaScript)

Declare a top-level \`createEnv()\`. Every call returns a **new, independent** environment object:

\`\`\`js
function createEnv() {
  return {
    observationSpace: { kind: "box", low: [-1, -Infinity], high: [1, Infinity] }, // a vector of numbers
    actionSpace: { kind: "discrete", n: 2 },   // or { kind: "box", low: [...], high: [...] }
    maxEpisodeSteps: 200,                      // the time limit (1 … 100,000)
    reset(seed) { return observation; },       // seed: an integer on the first reset, then undefined
    step(action) { return { observation, reward, terminated, truncated }; },
    getState() { return state; },              // optional, JSON data
    setState(state) {},                        // optional
  };
}
\`\`\`

- \`reset(seed)\` starts an episode. The first reset of each env gets an integer seed; later resets
  (after an episode ends) get \`undefined\` and must continue the env's own random stream. The same
  seed must give the same episode for the same actions. \`Math.random\` is seeded but **shared** by all
  the envs of a sandbox, so keep a generator per env, seeded in \`reset\` (the starter code does).
- \`step(action)\`: a Discrete action is an integer in [0, n); a Box action is an array of numbers
  within the bounds. Return the next observation (an array of finite numbers inside the
  observation space), a finite \`reward\`, \`terminated\` (a terminal state was reached) and optionally
  \`truncated\`. The platform truncates every episode when it reaches \`maxEpisodeSteps\` (Gymnasium's
  TimeLimit) and resets finished envs itself.
- \`getState()\`/\`setState(state)\` (optional): with both, a run that is stopped and resumed, or whose
  worker dies, continues every episode exactly. Without them it starts new episodes on resume.
- Everything runs synchronously in a sandbox (no timers, no \`require\`, no network). Each crossing,
  a step of all of a runner's envs together, has 1 s of CPU by default, and the sandbox 64 MiB.
  An environment that throws, hangs or returns malformed data fails the run with its message.
- Sizes are capped (by default): at most ${DEFAULT_CUSTOM_ENV_CAPS.maxObservationSize} observation values, ${DEFAULT_CUSTOM_ENV_CAPS.maxDiscreteActions} discrete
  actions, ${DEFAULT_CUSTOM_ENV_CAPS.maxActionSize} box action values. An env above a cap fails its check, and a run on an env
  passed before a cap was lowered is refused.

## The checks

Each is a visible test; all must pass. They run two instances of the env side by side with random
actions, for ${EPISODES} episodes or ${MAX_CHECK_STEPS.toLocaleString("en")} steps, within an overall budget (by default
${DEFAULT_ENV_CHECK_BUDGET.cpuMs / 1000} s of CPU and ${DEFAULT_ENV_CHECK_BUDGET.wallMs / 1000} s of wall-clock time for the whole check).`;

const TEST_NAMES = [
  ["spaces", "createEnv() declares valid spaces and a time limit, the same for every instance"],
  ["reset", "reset(seed) returns an observation inside the observation space"],
  ["determinism", "two envs reset with the same seed and given the same actions run the same episode"],
  ["steps", "every step returns an observation inside the space, a finite reward and boolean flags"],
  ["episodes", `${EPISODES} episodes end (terminated, or truncated at the time limit) within the CPU limits`],
  ["state", "getState()/setState() continue an episode exactly (when the env has them)"],
] as const;
type TestName = (typeof TEST_NAMES)[number][0];

/** One check's failure: its message goes to the learner. */
class CheckFailed extends Error {}

/** A budget failure in the learner's words: which budget, how much, and how far the check got. */
function budgetMessage(error: EnvSessionError, budget: EnvCheckBudget, progress: string): string {
  const which =
    error.budget === "cpu" ? `${budget.cpuMs} ms of CPU` : `${budget.wallMs} ms of wall-clock time`;
  return `the environment check stopped at its overall budget of ${which}${progress}: ${error.message}; make reset() and step() cheaper, or end episodes sooner`;
}

async function grade(code: string, context: GradingContext = {}): Promise<GradeReport> {
  const started = performance.now();
  const caps = context.env?.caps ?? DEFAULT_CUSTOM_ENV_CAPS;
  const budget = context.env?.budget ?? DEFAULT_ENV_CHECK_BUDGET;
  const limits: EnvSessionLimits = {
    ...LIMITS,
    ...context.env?.limits,
    totalCpuMs: budget.cpuMs,
    totalWallMs: budget.wallMs,
  };
  const outcomes = new Map<TestName, TestOutcome>();
  let session: EnvSession | undefined;
  let consoleText = "";
  let spec: CodeEnvSpec | null = null;
  /** Runs a check; `spentMs`: the time of work done for it beforehand (the shared episodes). */
  const run = async (name: TestName, check: () => Promise<string>, spentMs = 0) => {
    const t0 = performance.now() - spentMs;
    let passed = false;
    let message: string;
    try {
      message = await check();
      passed = true;
    } catch (err) {
      message =
        err instanceof EnvSessionError && err.budget
          ? budgetMessage(err, budget, "")
          : err instanceof Error
            ? err.message
            : String(err);
    }
    outcomes.set(name, { name, hidden: false, passed, message, timeMs: round(performance.now() - t0, 3) });
    return passed;
  };
  try {
    const loaded = await run("spaces", async () => {
      session = await EnvSession.open(code, 2, { limits, caps, now: GRADING_NOW });
      const declared = session.spec;
      spec = declared;
      return `observations ${JSON.stringify(declared.observationSpace)}, actions ${JSON.stringify(declared.actionSpace)}, time limit ${declared.maxEpisodeSteps}`;
    });
    if (loaded && session && spec) await checks(session, spec, run, budget);
  } finally {
    if (session) {
      consoleText = session.drainConsole();
      await session.close();
    }
  }
  const tests = TEST_NAMES.map(
    ([name]) =>
      outcomes.get(name) ?? {
        name,
        hidden: false,
        passed: false,
        message: "not run: an earlier check failed",
        timeMs: 0,
      },
  );
  // An env that does not load could not be graded at all; any other failed check is a failed grade.
  const loaded = outcomes.get("spaces");
  const graded = report(customEnvironment.points, customEnvironment.passingScore, tests, [], {
    runtimeMs: performance.now() - started,
    error: loaded?.passed ? null : (loaded?.message ?? "the environment did not load"),
    console: consoleText,
  });
  return { ...graded, envSpec: graded.status === "passed" ? spec : null };
}

async function checks(
  session: EnvSession,
  spec: CodeEnvSpec,
  run: (name: TestName, check: () => Promise<string>, spentMs?: number) => Promise<boolean>,
  budget: EnvCheckBudget,
): Promise<void> {
  const { observationSpace, actionSpace } = codeEnvSpaces(spec);
  const dim = session.obsDim;
  const row = (a: Float32Array, i: number) => a.subarray(i * dim, (i + 1) * dim);
  const inside = (obs: Float32Array, what: string) => {
    if (!contains(observationSpace, Array.from(obs)))
      throw new CheckFailed(`${what} ${JSON.stringify(Array.from(obs))} is outside the observation space`);
  };
  const same = (a: Float32Array, b: Float32Array) => a.every((v, k) => Object.is(v, b[k]));

  let first = new Float32Array(0);
  const reset = await run("reset", async () => {
    first = await session.reset([CHECK_SEED, CHECK_SEED]);
    inside(row(first, 0), "reset's observation");
    return `reset(${CHECK_SEED}) → ${JSON.stringify(Array.from(row(first, 0)))}`;
  });
  if (!reset) return;

  // Both envs get the same actions: any difference is a seed that is not honoured or shared state.
  const rng = new Rng(CHECK_SEED);
  const actions = actionBuffer(actionSpace, session);
  const problems: { determinism: string | null; steps: string | null } = { determinism: null, steps: null };
  if (!same(row(first, 0), row(first, 1)))
    problems.determinism = "two envs reset with the same seed returned different observations";
  let episodes = 0;
  let steps = 0;
  const t0 = performance.now();
  let failure: string | null = null;
  try {
    while (episodes < EPISODES && steps < MAX_CHECK_STEPS) {
      const a = sample(actionSpace, rng);
      for (let i = 0; i < 2; i++) writeAction(actions, actionSpace, i, a);
      const out = await session.step(actions);
      steps++;
      for (let i = 0; i < 2; i++) {
        const obs = out.hasFinal[i] ? row(out.finalObservations, i) : row(out.observations, i);
        if (problems.steps === null && !contains(observationSpace, Array.from(obs)))
          problems.steps = `step ${steps} returned ${JSON.stringify(Array.from(obs))}, outside the observation space`;
        if (
          problems.steps === null &&
          out.hasFinal[i] &&
          !contains(observationSpace, Array.from(row(out.observations, i)))
        )
          problems.steps = `the reset after step ${steps} returned an observation outside the observation space`;
      }
      if (
        problems.determinism === null &&
        (out.rewards[0] !== out.rewards[1] ||
          out.terminated[0] !== out.terminated[1] ||
          out.truncated[0] !== out.truncated[1] ||
          !same(row(out.observations, 0), row(out.observations, 1)))
      ) {
        problems.determinism = `the two envs diverged at step ${steps} (do they share state, or use Math.random?)`;
      }
      if (out.terminated[0] || out.truncated[0]) episodes++;
    }
  } catch (err) {
    failure =
      err instanceof EnvSessionError && err.budget
        ? budgetMessage(err, budget, ` after ${steps} steps of 2 envs and ${episodes} episodes`)
        : err instanceof Error
          ? err.message
          : String(err);
  }
  const steppedMs = performance.now() - t0;
  const perStep = steps > 0 ? (steppedMs * 1000) / steps : 0;
  await run("determinism", async () => {
    if (failure) throw new CheckFailed(`not checked: ${failure}`);
    if (problems.determinism) throw new CheckFailed(problems.determinism);
    return `${steps} steps identical`;
  });
  await run(
    "steps",
    async () => {
      if (failure) throw new CheckFailed(failure);
      if (problems.steps) throw new CheckFailed(problems.steps);
      return `${steps} steps of 2 envs, ${perStep.toFixed(1)} µs per step of both`;
    },
    steppedMs,
  );
  await run("episodes", async () => {
    if (failure) throw new CheckFailed(`not checked: ${failure}`);
    if (episodes < EPISODES)
      throw new CheckFailed(`only ${episodes} of ${EPISODES} episodes ended in ${steps} steps`);
    return `${episodes} episodes in ${steps} steps`;
  });
  await run("state", async () => {
    if (failure) throw new CheckFailed(`not checked: ${failure}`);
    if (!spec.stateful) return "skipped: no getState/setState (resumed runs start new episodes)";
    await session.reset([CHECK_SEED + 1, CHECK_SEED + 1]);
    const stepBoth = async () => {
      const a = sample(actionSpace, rng);
      for (let i = 0; i < 2; i++) writeAction(actions, actionSpace, i, a);
      return session.step(actions);
    };
    for (let k = 0; k < STATE_STEPS; k++) await stepBoth();
    const saved = await session.getStates();
    const state = rng.getState();
    const before: number[][] = [];
    for (let k = 0; k < STATE_STEPS; k++) before.push(Array.from(row((await stepBoth()).observations, 0)));
    // Env 1 is put back to the saved state of env 0 and must replay env 0's continuation.
    await session.setStates([saved[0]!, saved[0]!]);
    rng.setState(state);
    for (let k = 0; k < STATE_STEPS; k++) {
      const obs = Array.from(row((await stepBoth()).observations, 1));
      if (obs.some((v, j) => !Object.is(v, before[k]![j])))
        throw new CheckFailed(`after setState(getState()) step ${k + 1} returned another observation`);
    }
    return `restored after ${STATE_STEPS} steps, the next ${STATE_STEPS} replayed exactly`;
  });
}

function actionBuffer(space: Space, session: EnvSession): Int32Array | Float32Array {
  return space.kind === "discrete"
    ? new Int32Array(session.numEnvs)
    : new Float32Array(session.numEnvs * session.actDim);
}

function writeAction(
  buffer: Int32Array | Float32Array,
  space: Space,
  i: number,
  a: number | Float32Array,
): void {
  if (space.kind === "discrete") buffer[i] = a as number;
  else buffer.set(a as Float32Array, i * (a as Float32Array).length);
}

const customEnvironment: Exercise = {
  id: CUSTOM_ENVIRONMENT_EXERCISE,
  version: 1,
  kind: "environment",
  title: "Bring your own environment",
  summary: "Write an environment in JavaScript; once it passes Gymnasium's API checks, train PPO on it.",
  statement: STATEMENT,
  starterCode: STARTER,
  signature:
    "function createEnv(): { observationSpace, actionSpace, maxEpisodeSteps, reset(seed), step(action), getState?(), setState?(state) }",
  entry: "createEnv",
  points: 10,
  passingScore: 1,
  visibleTests: TEST_NAMES.map(([name, description]) => ({ name, description, args: [] })),
  limits: { cpuTimeMs: LIMITS.callCpuMs, wallTimeMs: LIMITS.callWallMs, memoryMb: LIMITS.memoryMb },
  grade: (code, _sandbox, context) => grade(code, context),
};

export default customEnvironment;
