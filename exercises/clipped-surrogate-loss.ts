import { z } from "zod";
import { Rng } from "../rl/core/rng.ts";
import { ppoLoss } from "../rl/ppo/loss.ts";
import { compareNumbers, f32, functionExercise, type HiddenTest } from "./grading.ts";

/**
 * PPO's clipped surrogate objective (Schulman et al. 2017, eq. 7) with CleanRL's diagnostics,
 * graded against `rl/ppo/loss.ts` `ppoLoss`: each new log-probability is realised as the
 * log-probability of action 0 under two float32 logits [l, 0], which the reference differentiates.
 */
export interface SurrogateCase {
  newLogprobs: number[];
  oldLogprobs: number[];
  advantages: number[];
  clipCoef: number;
}

export interface SurrogateStats {
  pg_loss: number;
  clipfrac: number;
  approx_kl: number;
}

/** log π(0) for logits [l, 0], computed as the reference's categorical row does (max-shifted). */
function logprobOfLogits(l: number): number {
  const max = Math.max(l, 0);
  return l - (max + Math.log(Math.exp(l - max) + Math.exp(-max)));
}

/** The float32 logit whose action-0 log-probability is closest to `logprob` (< 0). */
function logitFor(logprob: number): number {
  return f32(-Math.log(Math.expm1(-logprob)));
}

/** Builds a case whose new log-probabilities are exactly those the reference will compute. */
export function surrogateCase(
  newLogprobs: number[],
  oldLogprobs: number[],
  advantages: number[],
  clipCoef: number,
): SurrogateCase {
  return {
    newLogprobs: newLogprobs.map((p) => logprobOfLogits(logitFor(p))),
    oldLogprobs: oldLogprobs.map(f32),
    advantages: advantages.map(f32),
    clipCoef,
  };
}

export function referenceSurrogate(c: SurrogateCase): SurrogateStats {
  const M = c.newLogprobs.length;
  const logits = new Float32Array(2 * M);
  c.newLogprobs.forEach((p, i) => {
    logits[2 * i] = logitFor(p);
  });
  const stats = ppoLoss(
    { M, kind: "discrete", outDim: 2, out: logits, logstd: null, newvalue: new Float32Array(M) },
    {
      actions: new Float32Array(M),
      logprobs: Float32Array.from(c.oldLogprobs),
      advantages: Float32Array.from(c.advantages),
      returns: new Float32Array(M),
      values: new Float32Array(M),
    },
    { clipCoef: c.clipCoef, clipVloss: false, entCoef: 0, vfCoef: 0 },
    { dOut: new Float32Array(2 * M), dLogstd: null, dValue: new Float32Array(M) },
  );
  return { pg_loss: stats.pg_loss, clipfrac: stats.clipfrac, approx_kl: stats.approx_kl };
}

const argsOf = (c: SurrogateCase): unknown[] => [c.newLogprobs, c.oldLogprobs, c.advantages, c.clipCoef];

function randomCase(rng: Rng, M: number, drift: number, clipCoef: number, advMean = 0): SurrogateCase {
  const old = Array.from({ length: M }, () => Math.log(rng.uniformRange(0.05, 0.95)));
  const next = old.map((p) => Math.min(p + drift * rng.normal(), -1e-3));
  const adv = Array.from({ length: M }, () => advMean + rng.normal());
  return surrogateCase(next, old, adv, clipCoef);
}

function hiddenTests(): HiddenTest[] {
  const rng = new Rng(777);
  const cases: [string, SurrogateCase][] = [
    [
      "first epoch: the new policy equals the old one",
      (() => {
        const c = randomCase(rng, 32, 0, 0.2);
        return surrogateCase(c.oldLogprobs, c.oldLogprobs, c.advantages, 0.2);
      })(),
    ],
    ["small policy change, nothing clipped", randomCase(rng, 64, 0.02, 0.2)],
    ["large policy change, many ratios clipped", randomCase(rng, 64, 0.5, 0.2)],
    ["positive advantages only", randomCase(rng, 64, 0.3, 0.2, 3)],
    ["negative advantages only", randomCase(rng, 64, 0.3, 0.2, -3)],
    ["clip coefficient 0.1", randomCase(rng, 128, 0.2, 0.1)],
    ["clip coefficient 0.3", randomCase(rng, 128, 0.2, 0.3)],
    ["one sample", randomCase(rng, 1, 0.4, 0.2)],
    ["a minibatch of 512", randomCase(rng, 512, 0.15, 0.2)],
  ];
  return cases.map(([name, c]) => ({ name, args: argsOf(c), expected: referenceSurrogate(c) }));
}

const example1 = surrogateCase([Math.log(0.5), Math.log(0.3)], [Math.log(0.4), Math.log(0.3)], [1, -1], 0.2);
const example2 = surrogateCase([Math.log(0.9)], [Math.log(0.5)], [2], 0.2);

export default functionExercise({
  id: "clipped-surrogate-loss",
  version: 1,
  title: "PPO's clipped surrogate loss",
  summary: "The clipped policy loss of PPO, with the clip fraction and approximate KL.",
  statement: `# The clipped surrogate loss

PPO (Schulman et al., *Proximal Policy Optimization Algorithms*, 2017, eq. 7) maximises
$\\mathbb E[\\min(\\rho_t A_t, \\operatorname{clip}(\\rho_t, 1-\\epsilon, 1+\\epsilon) A_t)]$ where
$\\rho_t = \\pi_\\theta(a_t|s_t) / \\pi_{\\theta_\\text{old}}(a_t|s_t)$. As a loss to minimise over a
minibatch of $M$ samples (CleanRL's \`ppo.py\` names):

\`\`\`
logratio = newlogprob - oldlogprob;  ratio = exp(logratio)
pg_loss  = mean( max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)) )
clipfrac = mean( |ratio - 1| > eps ? 1 : 0 )
approx_kl = mean( (ratio - 1) - logratio )      // Schulman's k3 estimator of KL(old || new)
\`\`\`

Write \`clippedSurrogateLoss(newLogprobs, oldLogprobs, advantages, clipCoef)\` returning
\`{ pg_loss, clipfrac, approx_kl }\`. The advantages are already normalised if they need to be.
Values are compared with a tolerance of 1e-5 + 1e-4·|expected|.`,
  starterCode: `/**
 * @param {number[]} newLogprobs  log pi_theta(a|s) of each sample
 * @param {number[]} oldLogprobs  log pi_old(a|s), recorded during the rollout
 * @param {number[]} advantages
 * @param {number} clipCoef       epsilon, e.g. 0.2
 * @returns {{ pg_loss: number, clipfrac: number, approx_kl: number }}
 */
function clippedSurrogateLoss(newLogprobs, oldLogprobs, advantages, clipCoef) {
  let pg = 0, clipped = 0, kl = 0;
  const M = newLogprobs.length;
  for (let i = 0; i < M; i++) {
    // TODO
  }
  return { pg_loss: pg / M, clipfrac: clipped / M, approx_kl: kl / M };
}
`,
  signature:
    "function clippedSurrogateLoss(newLogprobs: number[], oldLogprobs: number[], advantages: number[], clipCoef: number): { pg_loss: number; clipfrac: number; approx_kl: number }",
  entry: "clippedSurrogateLoss",
  points: 20,
  passingScore: 1,
  limits: { cpuTimeMs: 1000, wallTimeMs: 5000, memoryMb: 64 },
  visibleTests: [
    {
      name: "example: one ratio inside the clip range, one at 1",
      description: "ratio 1.25 is clipped to 1.2 for the positive advantage; ratio 1 costs A",
      args: argsOf(example1),
      expected: referenceSurrogate(example1),
    },
    {
      name: "example: a ratio far above 1 + eps",
      description: "ratio 1.8 with A = 2: the clipped term −2·1.2 wins the max",
      args: argsOf(example2),
      expected: referenceSurrogate(example2),
    },
  ],
  hiddenTests: hiddenTests(),
  schema: z.object({ pg_loss: z.number(), clipfrac: z.number(), approx_kl: z.number() }),
  compare(actual, expected) {
    const e = expected as SurrogateStats;
    return (
      compareNumbers(actual.pg_loss, e.pg_loss, "pg_loss") ??
      compareNumbers(actual.clipfrac, e.clipfrac, "clipfrac") ??
      compareNumbers(actual.approx_kl, e.approx_kl, "approx_kl")
    );
  },
  seed: 4,
});
