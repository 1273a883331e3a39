import { z } from "zod";
import { VectorEnv } from "../rl/envs/vector.ts";
import { presetFor } from "../rl/ppo/hyperparameters.ts";
import type { Rollout } from "../rl/ppo/rollout.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";
import type { SandboxResult } from "../sandbox/index.ts";
import { GRADING_NOW, outcomeOf, preview, report } from "./grading.ts";
import type { Exercise, GradeReport, Sandbox, TestOutcome, VisibleTest } from "./types.ts";

/**
 * Reward shaping for MountainCar-v0, graded by training. The submitted `shapeReward` runs in the
 * sandbox, one fresh isolate per PPO iteration, over the whole rollout batch at once (so that the
 * host↔isolate crossing is paid once per 1,024 transitions, not per step); the PPO loop itself runs
 * in the grading process (the submissions service), never in the API process. The agent is then
 * evaluated greedily on the *unshaped* environment: only the true return counts.
 *
 * Settings: 8 envs × 128 steps, 10 epochs of 4 minibatches, lr 3e-3, λ 0.95, no entropy bonus,
 * 60k steps per seed, 2 seeds. Measured on the 2-core reference machine (three seeds each): no
 * shaping never reaches the flag (evaluation −200), potential-based shaping on |velocity| or on the
 * mechanical energy reaches it in 7–10 of 10 greedy episodes (−180 … −110), ~3 s per seed.
 */
export const SHAPING_ENV = "MountainCar-v0";
export const SHAPING_SEEDS = [1, 2] as const;
export const SHAPING_STEPS = 60_000;
const EVAL_EPISODES = 10;
const EVAL_SEED = 12_345;
/** Episodes reaching the flag (return > −200, the time limit) needed out of EVAL_EPISODES. */
const REACH_AT_LEAST = 5;
const MEAN_RETURN_AT_LEAST = -170;
/**
 * Sandbox time all the shaping calls of one seed may take (a well-behaved function needs well under a
 * second): without it, a function that spins near the per-job CPU limit would hold the grading
 * node's training lane for minutes.
 */
const SANDBOX_BUDGET_MS = 10_000;
/** Shaped rewards beyond this magnitude are refused: they would only blow the value function up. */
const MAX_ABS_REWARD = 1e6;

const BATCH_FN = "__proximaShapeBatch";
/**
 * Appended to the submission (a classic script: its function declarations are hoisted, and line
 * numbers of the learner's code are unchanged). It can be overridden by the submission, which then
 * only spoils its own grade: evaluation uses the environment's own rewards.
 */
const BATCH_HELPER = `
;function ${BATCH_FN}(batch) {
  const out = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const b = batch[i];
    out[i] = shapeReward(b[0], b[1], b[2], b[3], b[4]);
  }
  return out;
}
`;

type Transition = [obs: number[], action: number, reward: number, nextObs: number[], terminated: boolean];

const Shaped = z.array(
  z
    .number()
    .refine(Number.isFinite, "shapeReward must return a finite number")
    .refine((x) => Math.abs(x) <= MAX_ABS_REWARD, `shaped rewards must lie within ±${MAX_ABS_REWARD}`),
);

const LIMITS = { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 } as const;

function trainingConfig(seed: number) {
  return {
    ...presetFor(SHAPING_ENV, "cleanrl"),
    totalTimesteps: SHAPING_STEPS,
    seed,
    numEnvs: 8,
    numSteps: 128,
    numMinibatches: 4,
    updateEpochs: 10,
    learningRate: 3e-3,
    gaeLambda: 0.95,
    entCoef: 0,
  };
}

const visibleTests: VisibleTest[] = [
  {
    name: "example: a step in the valley",
    description: "returns a finite number",
    args: [[-0.5, 0], 2, -1, [-0.499, 0.001], false],
  },
  {
    name: "example: the step that reaches the flag",
    description: "returns a finite number",
    args: [[0.49, 0.02], 2, -1, [0.51, 0.02], true],
  },
];

/**
 * Reads the next observation of every transition: the following row of the rollout, the
 * observation after the rollout for its last step, or the episode's final observation where it
 * ended (SAME_STEP autoreset already replaced that env's observation by the next episode's first).
 */
function transitions(r: Rollout, finals: Float32Array[], hasFinal: Uint8Array[]): Transition[] {
  const { numSteps: T, numEnvs: N, obsDim: D } = r;
  const row = (src: Float32Array, k: number) => Array.from(src.subarray(k * D, k * D + D));
  const out: Transition[] = new Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < N; i++) {
      const idx = t * N + i;
      const next = hasFinal[t]![i]
        ? row(finals[t]!, i)
        : t === T - 1
          ? row(r.nextObs, i)
          : row(r.obs, idx + N);
      out[idx] = [row(r.obs, idx), r.actions[idx]!, r.rewards[idx]!, next, r.terminated[idx] === 1];
    }
  }
  return out;
}

async function trainWithShaping(
  code: string,
  seed: number,
  sandbox: Sandbox,
  results: SandboxResult<unknown>[],
): Promise<{ error: string | null; returns: number[] }> {
  const trainer = await PPOTrainer.create({ envId: SHAPING_ENV, config: trainingConfig(seed) });
  try {
    // Keep each step's final observations: the rollout keeps only those of truncated episodes.
    const env = trainer.collector.env;
    if (!(env instanceof VectorEnv)) throw new TypeError(`${SHAPING_ENV} steps in this process`);
    const step = env.step.bind(env);
    const finals: Float32Array[] = [];
    const hasFinal: Uint8Array[] = [];
    env.step = (actions) => {
      const result = step(actions);
      finals.push(result.finalObservations.slice());
      hasFinal.push(result.hasFinal.slice());
      return result;
    };
    let sandboxMs = 0;
    while (!trainer.done) {
      finals.length = 0;
      hasFinal.length = 0;
      const rollout = trainer.collect();
      const batch = transitions(rollout, finals, hasFinal);
      const result = await sandbox.run({
        code: code + BATCH_HELPER,
        entry: BATCH_FN,
        calls: [{ name: `seed ${seed}, iteration ${trainer.learner.iteration + 1}`, args: [batch] }],
        limits: LIMITS,
        seed,
        now: GRADING_NOW,
        schema: Shaped,
      });
      results.push(result);
      sandboxMs += result.wallTimeMs;
      const call = result.calls[0]!;
      if (!call.ok) return { error: `${call.error.kind}: ${call.error.message}`, returns: [] };
      if (call.value.length !== batch.length) {
        return { error: "shapeReward did not return one number per transition", returns: [] };
      }
      if (sandboxMs > SANDBOX_BUDGET_MS) {
        const budget = SANDBOX_BUDGET_MS / 1000;
        return { error: `timeout: shapeReward took more than ${budget} s in all for this seed`, returns: [] };
      }
      rollout.rewards.set(call.value);
      trainer.learn(rollout);
    }
    return { error: null, returns: trainer.evaluate(EVAL_EPISODES, EVAL_SEED).returns };
  } finally {
    trainer.dispose();
  }
}

async function grade(code: string, sandbox: Sandbox): Promise<GradeReport> {
  const started = performance.now();
  const results: SandboxResult<unknown>[] = [];
  const examples = await sandbox.run({
    code,
    entry: "shapeReward",
    calls: visibleTests.map((t) => ({ name: t.name, args: t.args })),
    limits: LIMITS,
    now: GRADING_NOW,
    schema: z.unknown(),
  });
  results.push(examples);
  const exampleOutcomes = examples.calls.map((call) =>
    outcomeOf(call, false, (value) =>
      typeof value === "number" && Number.isFinite(value)
        ? null
        : `shapeReward must return a finite number, got ${preview(value)}`,
    ),
  );
  const trainingTests: TestOutcome[] = [];
  const done = () =>
    report(mountainCarShaping.points, mountainCarShaping.passingScore, trainingTests, results, {
      runtimeMs: performance.now() - started,
      console: results.map((r) => r.console).join(""),
    });
  // The examples only check that shapeReward returns numbers: shown, never scored (the score is the
  // training's), so that "2 checks passed" never sits beside 0 points.
  const withExamples = (r: GradeReport): GradeReport => ({
    ...r,
    tests: [...exampleOutcomes.map((t): TestOutcome => ({ ...t, scored: false })), ...r.tests],
  });

  if (!exampleOutcomes.every((t) => t.passed)) {
    // Nothing trains on a function that does not return numbers; the examples say why.
    for (const seed of SHAPING_SEEDS) trainingTests.push(...notRun(seed, "the examples failed"));
    return withExamples(done());
  }
  for (const seed of SHAPING_SEEDS) {
    const t0 = performance.now();
    const { error, returns } = await trainWithShaping(code, seed, sandbox, results);
    const timeMs = Math.round(performance.now() - t0);
    if (error !== null) {
      trainingTests.push(...notRun(seed, `training stopped: ${error}`, timeMs));
      continue;
    }
    const reached = returns.filter((r) => r > -200).length;
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    trainingTests.push(
      {
        name: `seed ${seed}: the greedy policy reaches the flag in at least ${REACH_AT_LEAST} of ${EVAL_EPISODES} episodes`,
        hidden: false,
        passed: reached >= REACH_AT_LEAST,
        message: `reached the flag in ${reached} of ${EVAL_EPISODES} evaluation episodes`,
        timeMs,
      },
      {
        name: `seed ${seed}: mean evaluation return at least ${MEAN_RETURN_AT_LEAST}`,
        hidden: false,
        passed: mean >= MEAN_RETURN_AT_LEAST,
        message: `mean return ${mean.toFixed(1)} (unshaped, ${EVAL_EPISODES} greedy episodes)`,
        timeMs: 0,
      },
    );
  }
  return withExamples(done());
}

function notRun(seed: number, why: string, timeMs = 0): TestOutcome[] {
  return [
    {
      name: `seed ${seed}: the greedy policy reaches the flag`,
      hidden: false,
      passed: false,
      message: why,
      timeMs,
    },
    { name: `seed ${seed}: mean evaluation return`, hidden: false, passed: false, message: why, timeMs: 0 },
  ];
}

const mountainCarShaping: Exercise = {
  id: "mountain-car-shaping",
  version: 1,
  kind: "training",
  title: "Reward shaping for MountainCar-v0",
  summary: "Shape MountainCar's reward so that a short PPO run learns to reach the flag.",
  statement: `# Reward shaping for MountainCar-v0

In MountainCar-v0 an under-powered car must rock back and forth to climb to the flag at position
0.5. The reward is −1 per step until the flag or the 200-step time limit: a randomly acting agent
almost never sees anything else, so PPO with the plain reward learns nothing in a short run.

Write \`shapeReward(obs, action, reward, nextObs, terminated)\` returning the reward PPO should learn
from instead:

- \`obs\`, \`nextObs\`: \`[position, velocity]\` before and after the step (position in [−1.2, 0.6],
  velocity in [−0.07, 0.07]);
- \`action\`: 0 push left, 1 no push, 2 push right; \`reward\`: the environment's reward (−1);
- \`terminated\`: the step reached the flag.

**Grading.** PPO trains for ${SHAPING_STEPS.toLocaleString("en")} steps with your shaped rewards
(8 envs × 128 steps per iteration, 10 epochs, γ = 0.99) on seeds ${SHAPING_SEEDS.join(" and ")}; your
function is called on every transition. The trained greedy policy is then evaluated on
${EVAL_EPISODES} episodes with the **original** reward. For each seed: reaching the flag in at least
${REACH_AT_LEAST} episodes is one test, a mean return ≥ ${MEAN_RETURN_AT_LEAST} another. Half of the four
tests pass the exercise.

**Hint.** Potential-based shaping $F = \\gamma\\Phi(s') - \\Phi(s)$ (Ng, Harada & Russell, ICML 1999)
never changes which policy is optimal. What potential Φ grows as the car gains what it needs to
climb? The velocity is small (|v| ≤ 0.07): scale it.

Your function must be deterministic and fast (about 120,000 calls); it cannot keep state between
iterations (each batch runs in a fresh sandbox).`,
  starterCode: `/**
 * @param {number[]} obs       [position, velocity] before the step
 * @param {number} action      0 left, 1 none, 2 right
 * @param {number} reward      the environment's reward (-1)
 * @param {number[]} nextObs   [position, velocity] after the step
 * @param {boolean} terminated the car reached the flag
 * @returns {number}
 */
function shapeReward(obs, action, reward, nextObs, terminated) {
  const gamma = 0.99;
  const potential = (s) => 0; // TODO: what should grow as the car gets closer to escaping?
  return reward + gamma * potential(nextObs) - potential(obs);
}
`,
  signature:
    "function shapeReward(obs: [number, number], action: 0 | 1 | 2, reward: number, nextObs: [number, number], terminated: boolean): number",
  entry: "shapeReward",
  points: 25,
  passingScore: 0.5,
  visibleTests,
  limits: LIMITS,
  grade,
};

export default mountainCarShaping;
