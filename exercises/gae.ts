import { z } from "zod";
import { Rng } from "../rl/core/rng.ts";
import { computeGae } from "../rl/ppo/gae.ts";
import { compareArrays, f32, functionExercise, type HiddenTest } from "./grading.ts";

/**
 * Generalized Advantage Estimation over one environment's rollout, with `terminated` and `truncated`
 * told apart: graded against `rl/ppo/gae.ts` (CleanRL's recursion plus the timeout bootstrap of
 * Pardo et al. 2018, as the trainer uses it).
 */
export interface GaeCase {
  rewards: number[];
  values: number[];
  terminated: boolean[];
  truncated: boolean[];
  finalValues: number[];
  nextValue: number;
  gamma: number;
  lambda: number;
}

export function referenceGae(c: GaeCase): { advantages: number[]; returns: number[] } {
  const T = c.rewards.length;
  const bootstrapped = c.truncated.flatMap((tr, t) => (tr && !c.terminated[t] ? [t] : []));
  const advantages = new Float32Array(T);
  const returns = new Float32Array(T);
  computeGae(
    {
      numSteps: T,
      numEnvs: 1,
      gamma: c.gamma,
      gaeLambda: c.lambda,
      rewards: Float32Array.from(c.rewards),
      values: Float32Array.from(c.values),
      terminated: Uint8Array.from(c.terminated, Number),
      truncated: Uint8Array.from(c.truncated, Number),
      nextValues: Float32Array.of(c.nextValue),
      truncatedIndex: Int32Array.from(bootstrapped),
      truncatedValues: Float32Array.from(bootstrapped, (t) => c.finalValues[t]!),
    },
    advantages,
    returns,
  );
  return { advantages: Array.from(advantages), returns: Array.from(returns) };
}

const argsOf = (c: GaeCase): unknown[] => [
  c.rewards,
  c.values,
  c.terminated,
  c.truncated,
  c.finalValues,
  c.nextValue,
  c.gamma,
  c.lambda,
];

function randomCase(
  rng: Rng,
  T: number,
  pTerminated: number,
  pTruncated: number,
  gamma: number,
  lambda: number,
): GaeCase {
  const terminated = Array.from({ length: T }, () => rng.uniform() < pTerminated);
  const truncated = Array.from({ length: T }, () => rng.uniform() < pTruncated);
  const u = (lo: number, hi: number) => f32(rng.uniformRange(lo, hi));
  return {
    rewards: Array.from({ length: T }, () => u(-1, 1)),
    values: Array.from({ length: T }, () => u(-5, 5)),
    terminated,
    truncated,
    finalValues: truncated.map((tr) => (tr ? u(-5, 5) : 0)),
    nextValue: u(-5, 5),
    gamma,
    lambda,
  };
}

function hiddenTests(): HiddenTest[] {
  const rng = new Rng(31_337);
  const cases: [string, GaeCase][] = [
    ["no episode boundary: bootstrap from nextValue", randomCase(rng, 32, 0, 0, 0.99, 0.95)],
    ["terminations cut the recursion without bootstrap", randomCase(rng, 64, 0.1, 0, 0.99, 0.95)],
    ["truncations bootstrap from the final observation's value", randomCase(rng, 64, 0, 0.1, 0.99, 0.95)],
    ["terminated and truncated mixed", randomCase(rng, 128, 0.05, 0.05, 0.99, 0.95)],
    ["terminated and truncated on the same step: no bootstrap", sameStep(rng)],
    ["lambda 1: Monte-Carlo advantages", randomCase(rng, 48, 0.05, 0.05, 0.98, 1)],
    ["lambda 0: one-step TD errors", randomCase(rng, 48, 0.05, 0.05, 0.9, 0)],
    ["gamma 0", randomCase(rng, 16, 0.1, 0.1, 0, 0.95)],
    ["last step truncated", lastStep(rng, "truncated")],
    ["last step terminated", lastStep(rng, "terminated")],
    ["long rollout", randomCase(rng, 2048, 0.005, 0.005, 0.999, 0.95)],
  ];
  return cases.map(([name, c]) => ({ name, args: argsOf(c), expected: referenceGae(c) }));
}

function sameStep(rng: Rng): GaeCase {
  const c = randomCase(rng, 24, 0, 0, 0.99, 0.95);
  for (const t of [5, 17]) {
    c.terminated[t] = true;
    c.truncated[t] = true;
    c.finalValues[t] = 100;
  }
  return c;
}

function lastStep(rng: Rng, flag: "terminated" | "truncated"): GaeCase {
  const c = randomCase(rng, 20, 0, 0, 0.99, 0.95);
  c[flag][19] = true;
  c.finalValues[19] = flag === "truncated" ? 3.5 : 0;
  return c;
}

const example1: GaeCase = {
  rewards: [1, 1, 1],
  values: [0.5, 0.5, 0.5],
  terminated: [false, false, true],
  truncated: [false, false, false],
  finalValues: [0, 0, 0],
  nextValue: 0.7,
  gamma: 0.9,
  lambda: 0.95,
};
const example2: GaeCase = {
  rewards: [1, 1, 1, 1],
  values: [2, 2, 2, 2],
  terminated: [false, false, false, false],
  truncated: [false, true, false, false],
  finalValues: [0, 2.5, 0, 0],
  nextValue: 2,
  gamma: 0.99,
  lambda: 0.95,
};

const Output = z.object({ advantages: z.array(z.number()), returns: z.array(z.number()) });

export default functionExercise({
  id: "gae",
  version: 1,
  title: "Generalized Advantage Estimation (terminated vs truncated)",
  summary: "GAE over a rollout that crosses episode boundaries, bootstrapping truncated episodes.",
  statement: `# Generalized Advantage Estimation

PPO estimates advantages with GAE (Schulman et al., *High-dimensional continuous control using
generalized advantage estimation*, ICLR 2016). You get **one environment's rollout** of \`T\` steps;
it may cross episode boundaries (the environment is reset automatically when an episode ends, so
step \`t+1\` then belongs to the next episode).

For each step:

- \`rewards[t]\`, \`values[t]\` = V(s_t);
- \`terminated[t]\`: the episode **ended in the MDP** at this step (the pole fell, the goal was reached):
  there is no future, the value after it is 0;
- \`truncated[t]\`: the episode was **cut by a time limit**: the MDP goes on, so the last step must be
  *bootstrapped* with γ·V(final observation), given as \`finalValues[t]\` (Pardo et al., *Time limits in
  reinforcement learning*, ICML 2018). If a step is both terminated and truncated, termination wins: no
  bootstrap;
- \`nextValue\` = V of the observation after the last step of the rollout.

Then, walking backwards, with $d_t = \\text{terminated}_t \\lor \\text{truncated}_t$:

$$r'_t = r_t + \\gamma\\,\\text{finalValues}[t] \\text{ if truncated}_t \\land \\lnot\\text{terminated}_t \\text{ else } r_t$$
$$\\delta_t = r'_t + \\gamma V_{t+1} (1 - d_t) - V_t \\qquad A_t = \\delta_t + \\gamma\\lambda (1 - d_t) A_{t+1}$$

where $V_{t+1}$ is \`values[t+1]\`, or \`nextValue\` for the last step, and $A_T = 0$.
Return \`{ advantages, returns }\` with \`returns[t] = advantages[t] + values[t]\`.

Values are compared with a tolerance of 1e-5 + 1e-4·|expected|.`,
  starterCode: `/**
 * @param {number[]} rewards
 * @param {number[]} values        V(s_t)
 * @param {boolean[]} terminated
 * @param {boolean[]} truncated
 * @param {number[]} finalValues   V(final observation) where truncated[t]
 * @param {number} nextValue       V(s_T) after the last step
 * @param {number} gamma
 * @param {number} lambda
 * @returns {{ advantages: number[], returns: number[] }}
 */
function gae(rewards, values, terminated, truncated, finalValues, nextValue, gamma, lambda) {
  const T = rewards.length;
  const advantages = new Array(T).fill(0);
  let lastGaeLam = 0;
  for (let t = T - 1; t >= 0; t--) {
    // TODO
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]) };
}
`,
  signature:
    "function gae(rewards: number[], values: number[], terminated: boolean[], truncated: boolean[], finalValues: number[], nextValue: number, gamma: number, lambda: number): { advantages: number[]; returns: number[] }",
  entry: "gae",
  points: 20,
  passingScore: 1,
  limits: { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 },
  visibleTests: [
    {
      name: "example: an episode that terminates on its last step",
      description: "no bootstrap after a termination: nextValue is ignored",
      args: argsOf(example1),
      expected: referenceGae(example1),
    },
    {
      name: "example: a time-limit truncation in the middle",
      description: "step 1 is bootstrapped with 0.99 · finalValues[1]; the recursion restarts at step 2",
      args: argsOf(example2),
      expected: referenceGae(example2),
    },
  ],
  hiddenTests: hiddenTests(),
  schema: Output,
  compare(actual, expected) {
    const e = expected as { advantages: number[]; returns: number[] };
    return (
      compareArrays(actual.advantages, e.advantages, "advantages") ??
      compareArrays(actual.returns, e.returns, "returns")
    );
  },
  seed: 2,
});
