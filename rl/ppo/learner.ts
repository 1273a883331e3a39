/**
 * The learner half of PPO (RLlib's Learner): from a `Rollout` it computes values (including the
 * bootstrap values of the next and the truncated-final observations), GAE advantages and returns,
 * then runs CleanRL's update loop: `updateEpochs` passes over shuffled minibatches (`b_inds`),
 * per-minibatch advantage normalisation, clipped losses, global grad-norm clipping, Adam, and the
 * optional `target_kl` early stop at the end of an epoch.
 */
import type { Rng } from "../core/rng.ts";
import type { ActorCriticEngine, Minibatch } from "../nn/actor-critic.ts";
import type { Allocator } from "../nn/arena.ts";
import { computeGae } from "./gae.ts";
import type { Hyperparameters } from "./hyperparameters.ts";
import { type LossStats, normalizeAdvantages } from "./loss.ts";
import { Adam, clipGradNorm } from "./optim.ts";
import type { Rollout } from "./rollout.ts";

export interface UpdateStats extends LossStats {
  clipfracs: number;
  explained_variance: number;
  epochs: number;
  minibatches: number;
  gaeSeconds: number;
  updateSeconds: number;
}

/**
 * An update stopped between two minibatches because its caller asked (a stop or a shutdown of the run
 * that hosts it): what it changed is undone by `PPOLearner.learn`, which catches it first.
 */
export class UpdateInterruptedError extends Error {
  override name = "UpdateInterruptedError";
  constructor(readonly minibatches: number) {
    super(`the update was interrupted after ${minibatches} minibatches`);
  }
}

export class Learner {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly optimizer: Adam;
  private readonly config: Hyperparameters;
  private readonly engine: ActorCriticEngine;
  private readonly rng: Rng;
  private readonly batchSize: number;
  private readonly minibatchSize: number;
  private readonly values: Float32Array;
  private readonly advantages: Float32Array;
  private readonly returns: Float32Array;
  private readonly nextValues: Float32Array;
  private readonly b_inds: Int32Array;
  private readonly mb: Minibatch;
  private readonly mbAdvRaw: Float32Array;

  constructor(
    config: Hyperparameters,
    engine: ActorCriticEngine,
    paramCount: number,
    obsDim: number,
    actDim: number,
    rng: Rng,
    alloc: Allocator,
  ) {
    this.config = config;
    this.engine = engine;
    this.rng = rng;
    this.params = alloc.alloc(paramCount);
    this.grads = alloc.alloc(paramCount);
    this.optimizer = new Adam(alloc.alloc(paramCount), alloc.alloc(paramCount), config.adamEps);
    this.batchSize = config.numEnvs * config.numSteps;
    this.minibatchSize = this.batchSize / config.numMinibatches;
    this.values = new Float32Array(this.batchSize);
    this.advantages = new Float32Array(this.batchSize);
    this.returns = new Float32Array(this.batchSize);
    this.nextValues = new Float32Array(config.numEnvs);
    this.b_inds = new Int32Array(this.batchSize);
    const m = this.minibatchSize;
    this.mb = {
      M: m,
      obs: alloc.alloc(m * obsDim),
      actions: new Float32Array(m * actDim),
      logprobs: new Float32Array(m),
      advantages: new Float32Array(m),
      returns: new Float32Array(m),
      values: new Float32Array(m),
    };
    this.mbAdvRaw = new Float32Array(m);
  }

  /** Values and GAE for a rollout (into the learner's buffers). */
  computeAdvantages(r: Rollout): void {
    const n = r.numSteps * r.numEnvs;
    this.engine.values(this.params, r.obs, n, this.values);
    this.engine.values(this.params, r.nextObs, r.numEnvs, this.nextValues);
    const k = r.truncatedIndex.length;
    const truncatedValues = new Float32Array(k);
    if (k > 0) this.engine.values(this.params, r.truncatedObs, k, truncatedValues);
    computeGae(
      {
        numSteps: r.numSteps,
        numEnvs: r.numEnvs,
        gamma: this.config.gamma,
        gaeLambda: this.config.gaeLambda,
        rewards: r.rewards,
        values: this.values,
        terminated: r.terminated,
        truncated: r.truncated,
        nextValues: this.nextValues,
        truncatedIndex: r.truncatedIndex,
        truncatedValues,
      },
      this.advantages,
      this.returns,
    );
  }

  /**
   * One PPO update on a rollout at the given learning rate and clip coefficient. `interrupted` is asked
   * before each minibatch; when it answers true the update throws UpdateInterruptedError, leaving θ,
   * Adam and the shuffling RNG part-way (the caller restores them): so a stop waits at most one minibatch.
   */
  learn(r: Rollout, learningRate: number, clipCoef: number, interrupted?: () => boolean): UpdateStats {
    const c = this.config;
    const t0 = performance.now();
    this.computeAdvantages(r);
    const t1 = performance.now();
    const { obsDim, actDim } = r;
    const mb = this.mb;
    const M = this.minibatchSize;
    const coefs = { clipCoef, clipVloss: c.clipVloss, entCoef: c.entCoef, vfCoef: c.vfCoef };
    const b_inds = this.b_inds;
    for (let i = 0; i < b_inds.length; i++) b_inds[i] = i;
    let clipfracSum = 0;
    let clipfracCount = 0;
    let last: LossStats | null = null;
    let epochs = 0;
    let minibatches = 0;
    for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
      this.rng.shuffle(b_inds);
      for (let start = 0; start < this.batchSize; start += M) {
        if (interrupted?.()) throw new UpdateInterruptedError(minibatches);
        for (let j = 0; j < M; j++) {
          const idx = b_inds[start + j];
          mb.obs.set(r.obs.subarray(idx * obsDim, (idx + 1) * obsDim), j * obsDim);
          if (actDim === 1) mb.actions[j] = r.actions[idx];
          else mb.actions.set(r.actions.subarray(idx * actDim, (idx + 1) * actDim), j * actDim);
          mb.logprobs[j] = r.logprobs[idx];
          this.mbAdvRaw[j] = this.advantages[idx];
          mb.returns[j] = this.returns[idx];
          mb.values[j] = this.values[idx];
        }
        if (c.normAdv) normalizeAdvantages(this.mbAdvRaw, mb.advantages, M);
        else mb.advantages.set(this.mbAdvRaw);
        last = this.engine.lossAndGrad(this.params, this.grads, mb, coefs);
        clipfracSum += last.clipfrac;
        clipfracCount++;
        clipGradNorm(this.grads, c.maxGradNorm);
        this.optimizer.update(this.params, this.grads, learningRate);
        minibatches++;
      }
      epochs++;
      if (c.targetKl !== null && last !== null && last.approx_kl > c.targetKl) break;
    }
    const t2 = performance.now();
    return {
      ...(last as LossStats),
      clipfracs: clipfracSum / clipfracCount,
      explained_variance: explainedVariance(this.values, this.returns),
      epochs,
      minibatches,
      gaeSeconds: (t1 - t0) / 1000,
      updateSeconds: (t2 - t1) / 1000,
    };
  }
}

/** 1 − Var(returns − values) / Var(returns) (population variances, as CleanRL's numpy `np.var`); NaN if Var(returns) = 0. */
export function explainedVariance(values: Float32Array, returns: Float32Array): number {
  const n = returns.length;
  let my = 0;
  let md = 0;
  for (let i = 0; i < n; i++) {
    my += returns[i];
    md += returns[i] - values[i];
  }
  my /= n;
  md /= n;
  let vy = 0;
  let vd = 0;
  for (let i = 0; i < n; i++) {
    vy += (returns[i] - my) ** 2;
    vd += (returns[i] - values[i] - md) ** 2;
  }
  return vy === 0 ? Number.NaN : 1 - vd / vy;
}
