import { z } from "zod";
import { Rng } from "../rl/core/rng.ts";
import { computeGae } from "../rl/ppo/gae.ts";
import { compareArrays, f32, functionExercise, type HiddenTest } from "./grading.ts";

/**
 * Discounted returns G_t = r_t + γ·G_{t+1} of one episode (Sutton & Barto 2018, eq. 3.9). Graded
 * against `rl/ppo/gae.ts`: with λ = 1 and V ≡ 0, GAE's returns are exactly the discounted returns.
 */
export function referenceDiscountedReturns(rewards: readonly number[], gamma: number): number[] {
  const T = rewards.length;
  const advantages = new Float32Array(T);
  const returns = new Float32Array(T);
  computeGae(
    {
      numSteps: T,
      numEnvs: 1,
      gamma,
      gaeLambda: 1,
      rewards: Float32Array.from(rewards),
      values: new Float32Array(T),
      terminated: new Uint8Array(T),
      truncated: new Uint8Array(T),
      nextValues: new Float32Array(1),
      truncatedIndex: new Int32Array(0),
      truncatedValues: new Float32Array(0),
    },
    advantages,
    returns,
  );
  return Array.from(returns);
}

function hiddenTests(): HiddenTest[] {
  const rng = new Rng(20_241);
  const cases: [string, number[], number][] = [
    ["empty episode", [], 0.99],
    ["single step", [f32(rng.uniformRange(-5, 5))], 0.9],
    ["gamma 0 keeps the immediate rewards", randomRewards(rng, 12), 0],
    ["gamma 1 sums the rest of the episode", randomRewards(rng, 20), 1],
    ["sparse reward at the end, gamma 0.99", [...new Array(199).fill(0), 1], 0.99],
    ["CartPole-like episode of +1 rewards", new Array(500).fill(1), 0.99],
    ["negative rewards, gamma 0.95", randomRewards(rng, 64).map((r) => -Math.abs(r)), 0.95],
    ["long random episode", randomRewards(rng, 1000), 0.999],
  ];
  return cases.map(([name, rewards, gamma]) => ({
    name,
    args: [rewards, gamma],
    expected: referenceDiscountedReturns(rewards, gamma),
  }));
}

function randomRewards(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => f32(rng.uniformRange(-1, 1)));
}

export default functionExercise({
  id: "discounted-returns",
  version: 1,
  title: "Discounted returns",
  summary: "Compute the discounted return of every step of an episode.",
  statement: `# Discounted returns

An agent collected one **complete episode**: \`rewards[t]\` is the reward received after the action at
step \`t\`. The *return* from step \`t\` is the discounted sum of the rewards that follow it
(Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., eq. 3.8–3.9):

$$G_t = r_t + \\gamma r_{t+1} + \\gamma^2 r_{t+2} + \\dots = r_t + \\gamma G_{t+1}$$

with $G_T = 0$ after the last step.

Write \`discountedReturns(rewards, gamma)\` that returns an array of the same length with $G_t$ at
index \`t\`, in one backward pass.

- \`rewards\`: an array of numbers (possibly empty);
- \`gamma\`: the discount factor, $0 \\le \\gamma \\le 1$.

Values are compared with a tolerance of 1e-5 + 1e-4·|expected|.`,
  starterCode: `/**
 * @param {number[]} rewards
 * @param {number} gamma
 * @returns {number[]}
 */
function discountedReturns(rewards, gamma) {
  const returns = new Array(rewards.length).fill(0);
  // TODO: walk the episode backwards, G_t = r_t + gamma * G_{t+1}
  return returns;
}
`,
  signature: "function discountedReturns(rewards: number[], gamma: number): number[]",
  entry: "discountedReturns",
  points: 10,
  passingScore: 1,
  limits: { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 },
  visibleTests: [
    {
      name: "example: three rewards of 1, gamma 0.9",
      description: "G_2 = 1, G_1 = 1 + 0.9·1, G_0 = 1 + 0.9·1.9",
      args: [[1, 1, 1], 0.9],
      expected: referenceDiscountedReturns([1, 1, 1], 0.9),
    },
    {
      name: "example: a reward only at the end, gamma 0.5",
      description: "the final reward is halved at each step back",
      args: [[0, 0, 4], 0.5],
      expected: referenceDiscountedReturns([0, 0, 4], 0.5),
    },
  ],
  hiddenTests: hiddenTests(),
  schema: z.array(z.number()),
  compare: (actual, expected) => compareArrays(actual, expected as number[], "returns"),
  seed: 1,
});
