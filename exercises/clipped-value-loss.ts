import { z } from "zod";
import { Rng } from "../rl/core/rng.ts";
import { ppoLoss } from "../rl/ppo/loss.ts";
import { compareNumbers, f32, functionExercise, type HiddenTest } from "./grading.ts";

/**
 * The clipped value loss of OpenAI baselines' ppo2 and CleanRL (`clip_vloss`), graded against
 * `rl/ppo/loss.ts` `ppoLoss` (its `v_loss` with `clipVloss` on).
 */
export interface ValueCase {
  newValues: number[];
  oldValues: number[];
  returns: number[];
  clipCoef: number;
}

export function referenceValueLoss(c: ValueCase): number {
  const M = c.newValues.length;
  const stats = ppoLoss(
    {
      M,
      kind: "discrete",
      outDim: 2,
      out: new Float32Array(2 * M),
      logstd: null,
      newvalue: Float32Array.from(c.newValues),
    },
    {
      actions: new Float32Array(M),
      logprobs: new Float32Array(M).fill(Math.log(0.5)),
      advantages: new Float32Array(M),
      returns: Float32Array.from(c.returns),
      values: Float32Array.from(c.oldValues),
    },
    { clipCoef: c.clipCoef, clipVloss: true, entCoef: 0, vfCoef: 1 },
    { dOut: new Float32Array(2 * M), dLogstd: null, dValue: new Float32Array(M) },
  );
  return stats.v_loss;
}

const argsOf = (c: ValueCase): unknown[] => [c.newValues, c.oldValues, c.returns, c.clipCoef];

function randomCase(rng: Rng, M: number, move: number, clipCoef: number, scale = 1): ValueCase {
  const oldValues = Array.from({ length: M }, () => f32(scale * rng.normal()));
  return {
    oldValues,
    newValues: oldValues.map((v) => f32(v + move * rng.normal())),
    returns: oldValues.map((v) => f32(v + scale * rng.normal())),
    clipCoef,
  };
}

function hiddenTests(): HiddenTest[] {
  const rng = new Rng(9_001);
  const cases: [string, ValueCase][] = [
    [
      "values unchanged since the rollout",
      (() => {
        const c = randomCase(rng, 32, 0, 0.2);
        return { ...c, newValues: c.oldValues };
      })(),
    ],
    ["small value updates, inside the clip range", randomCase(rng, 64, 0.05, 0.2)],
    ["large value updates, clipped", randomCase(rng, 64, 1, 0.2)],
    ["large returns (CartPole scale)", randomCase(rng, 128, 5, 0.2, 50)],
    ["clip coefficient 0.5", randomCase(rng, 64, 0.6, 0.5)],
    ["one sample", randomCase(rng, 1, 1, 0.2)],
    ["a minibatch of 512", randomCase(rng, 512, 0.3, 0.2)],
  ];
  return cases.map(([name, c]) => ({ name, args: argsOf(c), expected: referenceValueLoss(c) }));
}

const example1: ValueCase = { newValues: [1.5], oldValues: [1], returns: [2], clipCoef: 0.2 };
const example2: ValueCase = { newValues: [0.5, 3], oldValues: [0, 3], returns: [2, 2.5], clipCoef: 0.2 };

export default functionExercise({
  id: "clipped-value-loss",
  version: 1,
  title: "PPO's clipped value loss",
  summary: "The value loss with the update clipped around the rollout's values.",
  statement: `# The clipped value loss

Besides the policy, PPO trains the critic V. OpenAI baselines' \`ppo2\` (and CleanRL with
\`clip_vloss\`) clips the value update around the values recorded during the rollout, with the same ε
as the policy, and takes the *larger* (pessimistic) of the two squared errors:

\`\`\`
v_clipped = oldValue + clip(newValue - oldValue, -eps, eps)
v_loss    = 0.5 * mean( max((newValue - R)^2, (v_clipped - R)^2) )
\`\`\`

where \`R\` are the returns (advantages + old values, from GAE).

Write \`clippedValueLoss(newValues, oldValues, returns, clipCoef)\` returning \`v_loss\` (a number).
Values are compared with a tolerance of 1e-5 + 1e-4·|expected|.`,
  starterCode: `/**
 * @param {number[]} newValues  V_theta(s) now
 * @param {number[]} oldValues  V(s) recorded during the rollout
 * @param {number[]} returns    GAE returns
 * @param {number} clipCoef     epsilon, e.g. 0.2
 * @returns {number}
 */
function clippedValueLoss(newValues, oldValues, returns, clipCoef) {
  let sum = 0;
  for (let i = 0; i < newValues.length; i++) {
    // TODO
  }
  return 0.5 * sum / newValues.length;
}
`,
  signature:
    "function clippedValueLoss(newValues: number[], oldValues: number[], returns: number[], clipCoef: number): number",
  entry: "clippedValueLoss",
  points: 15,
  passingScore: 1,
  limits: { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 },
  visibleTests: [
    {
      name: "example: the clipped error is larger",
      description: "v_clipped = 1.2: max((1.5−2)², (1.2−2)²) = 0.64, halved",
      args: argsOf(example1),
      expected: referenceValueLoss(example1),
    },
    {
      name: "example: two samples",
      description: "the first update is clipped, the second is not",
      args: argsOf(example2),
      expected: referenceValueLoss(example2),
    },
  ],
  hiddenTests: hiddenTests(),
  schema: z.number(),
  compare: (actual, expected) => compareNumbers(actual, expected as number, "v_loss"),
  seed: 5,
});
