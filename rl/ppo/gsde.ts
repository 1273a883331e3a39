/**
 * The env-runner side of generalized State-Dependent Exploration (gSDE; Raffin, Kober & Stulp,
 * "Smooth Exploration for Robotic Reinforcement Learning", CoRL 2021), as Stable-Baselines3 does it
 * for PPO (`common/distributions.py` StateDependentNoiseDistribution with use_expln=False,
 * full_std=True, squash_output=False, learn_features=False, epsilon=1e-6):
 *
 *   noise(s)  = latent(s) · E_i                 one exploration matrix E_i [H, d] per env i (get_noise)
 *   E_i       ~ N(0, exp(logstd)²)              element-wise (sample_weights)
 *   action    = mean(s) + noise(s)              (sample)
 *   log-prob  = Σ_k log N(action_k; mean_k, √(variance_k + ε)),
 *               variance = latent² · exp(logstd)²   (proba_distribution, log_prob)
 *
 * E_i is resampled at the start of every rollout and, when sdeSampleFreq > 0, every sdeSampleFreq
 * steps of it (SB3 `OnPolicyAlgorithm.collect_rollouts`). The learner's side (variance, log-prob,
 * entropy and their gradients) is in nn/actor-critic.ts and ppo/loss.ts.
 */
import type { Rng } from "../core/rng.ts";
import { type ActionSpec, GSDE_EPSILON } from "../nn/actor-critic.ts";
import type { Hyperparameters } from "./hyperparameters.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** What a collector needs to explore with gSDE; null when the run does not use it. */
export interface SdeOptions {
  /** Resample every this many steps of a rollout when > 0; otherwise once per rollout. */
  sampleFreq: number;
}

export function sdeOptions(config: Pick<Hyperparameters, "useSde" | "sdeSampleFreq">): SdeOptions | null {
  return config.useSde ? { sampleFreq: config.sdeSampleFreq ?? -1 } : null;
}

/** Whether step t (0-based, within the rollout) acts with freshly sampled exploration matrices. */
export function resamplesAt(t: number, sampleFreq: number): boolean {
  // SB3 samples at the start of collect_rollouts and again when n_steps % sde_sample_freq == 0; at
  // step 0 both apply, and one draw there is the same distribution as two.
  return t === 0 || (sampleFreq > 0 && t % sampleFreq === 0);
}

/**
 * Draws env i's exploration matrix E_i [H, d] (row-major, as torch's rsample fills it) from rngs[i]:
 * E_i[j, k] = std[j, k] · z, z ~ N(0, 1), std = exp(logstd) (see `gsdeStd`). Written to
 * out[i·H·d, (i+1)·H·d).
 */
export function sampleExplorationMatrices(std: Float64Array, rngs: readonly Rng[], out: Float32Array): void {
  const size = std.length;
  for (let i = 0; i < rngs.length; i++) {
    const rng = rngs[i]!;
    const o = i * size;
    for (let e = 0; e < size; e++) out[o + e] = std[e]! * rng.normal();
  }
}

/** std = exp(logstd) and stdSq = std² element-wise (SB3 get_std with use_expln=False, full_std). */
export function gsdeStd(logstd: Float32Array, std: Float64Array, stdSq: Float64Array): void {
  for (let e = 0; e < std.length; e++) {
    std[e] = Math.exp(logstd[e]!);
    stdSq[e] = std[e]! * std[e]!;
  }
}

/**
 * gSDE actions for `rows` envs: row i's action is mean_i + latent_i · E_i (no random draw: the noise
 * is the exploration matrix's), stored unclipped in `actions`, clipped to the bounds in `envActions`
 * (SB3 clips before env.step), with its log-prob under Normal(mean, √(latent²·stdSq + ε)), where
 * stdSq = exp(logstd)² [H, d] (see `gsdeStd`).
 */
export function sampleActionsSde(
  action: Extract<ActionSpec, { kind: "box" }>,
  mean: Float32Array,
  latent: Float32Array,
  stdSq: Float64Array,
  exploration: Float32Array,
  H: number,
  rows: number,
  envActions: Float32Array | Int32Array,
  actions: Float32Array,
  logprobs: Float32Array,
): void {
  const d = action.dim;
  for (let i = 0; i < rows; i++) {
    const E = i * H * d;
    let lp = 0;
    for (let k = 0; k < d; k++) {
      let noise = 0;
      let variance = 0;
      for (let j = 0; j < H; j++) {
        const h = latent[i * H + j]!;
        noise += h * exploration[E + j * d + k]!;
        variance += h * h * stdSq[j * d + k]!;
      }
      const a = Math.fround(mean[i * d + k]! + noise);
      const s2 = variance + GSDE_EPSILON;
      const diff = a - mean[i * d + k]!;
      actions[i * d + k] = a;
      envActions[i * d + k] = Math.min(Math.max(a, action.low[k]!), action.high[k]!);
      lp += (-0.5 * diff * diff) / s2 - 0.5 * Math.log(s2) - HALF_LOG_2PI;
    }
    logprobs[i] = lp;
  }
}
