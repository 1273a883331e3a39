import { z } from "zod";
import { Rng } from "../rl/core/rng.ts";
import { normalizeAdvantages } from "../rl/ppo/loss.ts";
import { compareArrays, f32, functionExercise, type HiddenTest } from "./grading.ts";

/** Per-minibatch advantage normalisation, graded against `rl/ppo/loss.ts` `normalizeAdvantages`. */
export function referenceNormalize(advantages: readonly number[]): number[] {
  const src = Float32Array.from(advantages);
  const dst = new Float32Array(src.length);
  normalizeAdvantages(src, dst, src.length);
  return Array.from(dst);
}

function hiddenTests(): HiddenTest[] {
  const rng = new Rng(4_242);
  const gaussian = (n: number, mean: number, std: number) =>
    Array.from({ length: n }, () => f32(mean + std * rng.normal()));
  const cases: [string, number[]][] = [
    ["two values", [f32(-1.5), f32(3.25)]],
    ["all equal: the 1e-8 keeps it finite", new Array(8).fill(2.5)],
    ["already normalised", gaussian(64, 0, 1)],
    ["large offset", gaussian(64, 1000, 3)],
    ["tiny spread", gaussian(32, 0.5, 1e-3)],
    ["skewed", gaussian(128, 0, 1).map((x) => f32(Math.exp(x)))],
    ["a CleanRL minibatch of 128", gaussian(128, -0.3, 2)],
    ["a large batch", gaussian(4096, 0.1, 5)],
  ];
  return cases.map(([name, a]) => ({ name, args: [a], expected: referenceNormalize(a) }));
}

export default functionExercise({
  id: "advantage-normalization",
  version: 1,
  title: "Advantage normalisation",
  summary: "Normalise a minibatch of advantages to zero mean and unit standard deviation.",
  statement: `# Advantage normalisation

Before the PPO loss, CleanRL's \`ppo.py\` normalises the advantages of each minibatch
(\`norm_adv\`):

$$\\hat A_i = \\frac{A_i - \\mu}{\\sigma + 10^{-8}}, \\qquad \\mu = \\frac1n\\sum_i A_i, \\qquad
\\sigma = \\sqrt{\\frac{1}{n-1}\\sum_i (A_i - \\mu)^2}$$

Note the **sample** standard deviation (divide by $n-1$, as PyTorch's \`Tensor.std()\` does) and the
$10^{-8}$ added to σ (not inside the square root), which keeps a minibatch of equal advantages finite.

Write \`normalizeAdvantages(advantages)\` returning a new array (\`advantages\` has at least 2
elements). Values are compared with a tolerance of 1e-5 + 1e-4·|expected|.`,
  starterCode: `/**
 * @param {number[]} advantages  at least two values
 * @returns {number[]}
 */
function normalizeAdvantages(advantages) {
  const n = advantages.length;
  // TODO: mean, sample standard deviation, then (a - mean) / (std + 1e-8)
  return advantages.slice();
}
`,
  signature: "function normalizeAdvantages(advantages: number[]): number[]",
  entry: "normalizeAdvantages",
  points: 10,
  passingScore: 1,
  limits: { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 },
  visibleTests: [
    {
      name: "example: 1, 2, 3",
      description: "mean 2, sample std 1",
      args: [[1, 2, 3]],
      expected: referenceNormalize([1, 2, 3]),
    },
    {
      name: "example: four values",
      description: "mean 0.5, sample std √(25/3)",
      args: [[-2, 0, 1, 3]],
      expected: referenceNormalize([-2, 0, 1, 3]),
    },
  ],
  hiddenTests: hiddenTests(),
  schema: z.array(z.number()),
  compare: (actual, expected) => compareArrays(actual, expected as number[], "normalized"),
  seed: 3,
});
