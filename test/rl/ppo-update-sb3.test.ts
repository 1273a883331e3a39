/**
 * Whole PPO updates against Stable-Baselines3's own `PPO.train()` (fixture recorded by
 * scripts/reference/record_ppo_update.py from SB3, torch, Gymnasium and MuJoCo): from the same θ, on
 * the same rollout of a real MuJoCo env, in the same minibatch order, Proxima's learner must end
 * where SB3 ends. One such comparison covers every piece of the update at once (GAE with the timeout
 * bootstrap, minibatch gathering, per-minibatch advantage normalisation, the clipped surrogate, the
 * value loss and its weight, the entropy bonus, global grad-norm clipping, Adam), which the
 * piecewise tests of test/rl/ppo.test.ts check one at a time against formulas. The cases: Hopper
 * (Box, terminations and truncations), HalfCheetah (zoo's ReLU policy, truncations only) and CartPole
 * on 8 envs (Categorical, and the layout of several envs: SB3 draws minibatches from its buffer
 * flattened env by env, Proxima's rollout is time-major).
 *
 * Settings that differ only in how the two libraries spell them: SB3's value loss is vf_coef·mse,
 * Proxima's (CleanRL's) is vfCoef·½·mse, so vfCoef = 2·vf_coef; SB3 has no value clipping here
 * (clip_range_vf None), so clipVloss is off.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { FusedActorCritic, type NetworkSpec, parameterLayout } from "../../rl/nn/actor-critic.ts";
import { Arena } from "../../rl/nn/arena.ts";
import { initBackend } from "../../rl/nn/backend.ts";
import { jsGemm } from "../../rl/nn/gemm.ts";
import { wasmGemm } from "../../rl/nn/gemm-wasm.ts";
import { tensorSlices } from "../../rl/nn/tensors.ts";
import { TfjsActorCritic } from "../../rl/nn/tfjs-actor-critic.ts";
import { computeGae } from "../../rl/ppo/gae.ts";
import { type Activation, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { Learner } from "../../rl/ppo/learner.ts";
import type { Rollout } from "../../rl/ppo/rollout.ts";
import { maxErr } from "../helpers/compare.ts";

/** One case of test/rl/fixtures/reference/ppo-update.json.gz. */
interface UpdateCase {
  name: string;
  env: string;
  numEnvs: number;
  obsDim: number;
  action: { kind: "box"; dim: number } | { kind: "discrete"; n: number };
  hiddenSizes: number[];
  activation: Activation;
  numSteps: number;
  minibatchSize: number;
  epochs: number;
  learningRate: number;
  clipRange: number;
  entCoef: number;
  vfCoef: number;
  maxGradNorm: number;
  gamma: number;
  gaeLambda: number;
  episodes: { terminated: number; truncated: number };
  paramsBefore: number[];
  paramsAfter: number[];
  rollout: Record<
    | "obs"
    | "actions"
    | "logprobs"
    | "values"
    | "rewards"
    | "terminated"
    | "truncated"
    | "truncatedIndex"
    | "truncatedObs"
    | "truncatedValues"
    | "nextObs"
    | "nextValues",
    number[]
  >;
  advantages: number[];
  returns: number[];
  permutations: number[][];
  logged: Record<
    "clip_fraction" | "policy_gradient_loss" | "value_loss" | "entropy_loss" | "approx_kl",
    number
  >;
}

const fixture = JSON.parse(
  gunzipSync(readFileSync(new URL("fixtures/reference/ppo-update.json.gz", import.meta.url))).toString(
    "utf8",
  ),
) as { source: string; cases: UpdateCase[] };

test.before(async () => {
  await initBackend("wasm");
});

/**
 * The minibatch order SB3 drew: each epoch's `np.random.permutation`, in turn. The learner asks its
 * RNG to shuffle its index array once per epoch; this RNG writes the recorded permutation instead,
 * each index moved from SB3's flattening (`swap_and_flatten`: env-major, i·numSteps + t) to the
 * rollout's (time-major, t·numEnvs + i), so that each minibatch holds the same transitions.
 */
class RecordedPermutations extends Rng {
  private epoch = 0;
  constructor(
    private readonly permutations: readonly number[][],
    private readonly numSteps: number,
    private readonly numEnvs: number,
  ) {
    super(0);
  }
  override shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    const p = this.permutations[this.epoch++];
    if (!p || p.length !== a.length)
      throw new Error(`no recorded permutation of ${a.length} for epoch ${this.epoch}`);
    for (let k = 0; k < p.length; k++) {
      const env = Math.floor(p[k]! / this.numSteps);
      const t = p[k]! % this.numSteps;
      a[k] = t * this.numEnvs + env;
    }
    return a;
  }
}

const actDimOf = (c: UpdateCase) => (c.action.kind === "box" ? c.action.dim : 1);
const batchOf = (c: UpdateCase) => c.numSteps * c.numEnvs;

function specOf(c: UpdateCase): NetworkSpec {
  return {
    obsDim: c.obsDim,
    // The MuJoCo cases' actuators all range over [-1, 1].
    action:
      c.action.kind === "discrete"
        ? c.action
        : {
            kind: "box",
            dim: c.action.dim,
            low: new Float32Array(c.action.dim).fill(-1),
            high: new Float32Array(c.action.dim).fill(1),
          },
    hiddenSizes: c.hiddenSizes,
    activation: c.activation,
  };
}

/** The recorded rollout as a collector hands it to the learner (recorded time-major, as Proxima's). */
function rolloutOf(c: UpdateCase): Rollout {
  const r = c.rollout;
  return {
    numSteps: c.numSteps,
    numEnvs: c.numEnvs,
    obsDim: c.obsDim,
    actDim: actDimOf(c),
    policyVersion: 1,
    obs: Float32Array.from(r.obs),
    actions: Float32Array.from(r.actions),
    logprobs: Float32Array.from(r.logprobs),
    rewards: Float32Array.from(r.rewards),
    terminated: Uint8Array.from(r.terminated),
    truncated: Uint8Array.from(r.truncated),
    nextObs: Float32Array.from(r.nextObs),
    truncatedIndex: Int32Array.from(r.truncatedIndex),
    truncatedObs: Float32Array.from(r.truncatedObs),
    episodes: [],
    envSeconds: 0,
    inferenceSeconds: 0,
  };
}

function configOf(c: UpdateCase) {
  return resolveHyperparameters(c.env, "cleanrl", {
    numEnvs: c.numEnvs,
    numSteps: c.numSteps,
    numMinibatches: batchOf(c) / c.minibatchSize,
    updateEpochs: c.epochs,
    learningRate: c.learningRate,
    annealLr: false,
    clipCoef: c.clipRange,
    clipVloss: false,
    entCoef: c.entCoef,
    vfCoef: 2 * c.vfCoef,
    maxGradNorm: c.maxGradNorm,
    gamma: c.gamma,
    gaeLambda: c.gaeLambda,
    normAdv: true,
    targetKl: null,
    adamEps: 1e-5,
    hiddenSizes: c.hiddenSizes,
    activation: c.activation,
    normalizeObs: false,
    normalizeReward: false,
  });
}

for (const c of fixture.cases) {
  test(`the fixture holds a real update (${c.name}: ${c.episodes.terminated} terminated, ${c.episodes.truncated} truncated episode ends)`, (t) => {
    t.true(c.episodes.truncated > 0);
    t.is(c.permutations.length, c.epochs);
    t.is(parameterLayout(specOf(c)).size, c.paramsBefore.length);
    // SB3 moved every tensor: a comparison of parameters that did not change would prove nothing.
    for (const s of tensorSlices(parameterLayout(specOf(c))))
      t.true(
        c.paramsAfter.slice(s.offset, s.offset + s.size).some((v, i) => v !== c.paramsBefore[s.offset + i]),
        s.name,
      );
  });

  test(`GAE with the timeout bootstrap equals SB3's RolloutBuffer on the same values (${c.name})`, (t) => {
    const r = rolloutOf(c);
    const advantages = new Float32Array(batchOf(c));
    const returns = new Float32Array(batchOf(c));
    computeGae(
      {
        ...r,
        gamma: c.gamma,
        gaeLambda: c.gaeLambda,
        values: Float32Array.from(c.rollout.values),
        nextValues: Float32Array.from(c.rollout.nextValues),
        truncatedValues: Float32Array.from(c.rollout.truncatedValues),
      },
      advantages,
      returns,
    );
    for (const [name, got, want] of [
      ["advantages", advantages, c.advantages],
      ["returns", returns, c.returns],
    ] as const) {
      const { err, at, scale } = maxErr(got, want);
      t.true(err <= 1e-5 * Math.max(1, scale), `${name}[${at}]: ${got[at]} vs ${want[at]} (scale ${scale})`);
    }
  });

  for (const engine of ["fused-js", "fused-wasm", "tfjs"] as const) {
    test(`${engine}: one update from SB3's θ on its rollout, in its minibatch order, ends at SB3's θ (${c.name})`, (t) => {
      const config = configOf(c);
      const spec = specOf(c);
      const layout = parameterLayout(spec);
      const { value } = Arena.build((alloc) => {
        const e =
          engine === "tfjs"
            ? new TfjsActorCritic(spec)
            : new FusedActorCritic(spec, batchOf(c), alloc, engine === "fused-js" ? jsGemm : wasmGemm()!);
        return {
          engine: e,
          learner: new Learner(
            config,
            e,
            layout.size,
            c.obsDim,
            actDimOf(c),
            new RecordedPermutations(c.permutations, c.numSteps, c.numEnvs),
            alloc,
          ),
        };
      });
      try {
        const { learner } = value;
        learner.params.set(c.paramsBefore);
        const stats = learner.learn(rolloutOf(c), c.learningRate, c.clipRange);
        t.is(stats.epochs, c.epochs);
        t.is(stats.minibatches, c.epochs * (batchOf(c) / c.minibatchSize));
        // Judged on the step θ took (θ_after − θ_before), so that a wrong sign, a missing term or a
        // wrong coefficient, each a large part of a step off, cannot pass: halving the value loss's
        // weight, skipping advantage normalisation, grad-norm clipping or the entropy bonus each fail
        // here. Float32 sums in another order than torch's leave 2e-6 to 4e-5 of the largest step
        // (measured on these cases with all three engines); the bound is 5x that.
        const before = c.paramsBefore;
        const step = c.paramsAfter.map((v, i) => v - before[i]!);
        const ours = Array.from(learner.params, (v, i) => v - before[i]!);
        const { err, at, scale } = maxErr(ours, step);
        const where = tensorSlices(layout).find((s) => at >= s.offset && at < s.offset + s.size)?.name;
        t.true(
          err <= 2e-4 * scale,
          `θ step: ${err} off at ${where} [${at}] (${ours[at]} vs ${step[at]}; largest step ${scale})`,
        );
        // Clip fractions are counted from the same ratios: equal unless a ratio sits on the boundary.
        t.true(
          Math.abs(stats.clipfracs - c.logged.clip_fraction) <= 1 / batchOf(c),
          `clipfracs ${stats.clipfracs} vs ${c.logged.clip_fraction}`,
        );
      } finally {
        value.engine.dispose();
      }
    });
  }
}
