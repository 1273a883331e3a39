/**
 * Observation and reward normalisation, as Stable-Baselines3's VecNormalize
 * (stable_baselines3/common/vec_env/vec_normalize.py) with its RunningMeanStd
 * (stable_baselines3/common/running_mean_std.py), and the variant of Gymnasium's wrappers that
 * CleanRL's `ppo_continuous_action.py` stacks (NormalizeObservation + clip, NormalizeReward + clip).
 *
 * Three parts:
 * - `RunningMeanStd`: SB3's running moments (float64, prior count 1e-4, Chan et al.'s parallel merge).
 * - `VecNormalize`: SB3's per-step semantics, statistics shared by all envs and updated after every
 *   vector step. It is the reference the fixtures recorded from SB3 check, and the rule any
 *   single-process user of SB3 knows.
 * - `RolloutNormalizer` (collector side) and `RunningNormalization` (learner side): what PPO uses.
 *   A collector accumulates the raw moments of what it saw, per env; the learner merges those
 *   per-env moments, in global env order, once per iteration (the statistics of evaluation, export
 *   and checkpoints). What the collector normalises with is `NormalizeUpdate`'s choice:
 *   - "iteration": the learner's statistics, FROZEN for the rollout (sent with the weights). Over an
 *     iteration the merged statistics are those SB3 would hold after the same data (the parallel
 *     merge is exact up to rounding); what differs is that the observations of iteration k are
 *     normalised with the statistics at the end of iteration k−1 instead of those of the previous
 *     step, and the first iteration with the prior (mean 0, var 1).
 *   - "step": each env's own statistics, updated after every step: Gymnasium's wrappers on each env,
 *     which is what CleanRL's ppo_continuous_action runs, and SB3's VecNormalize at one env.
 *   Both keep a run over R runners equal to the same run in one process bit for bit, whatever the
 *   split. SB3's per-step update of statistics SHARED by the envs would not: env i's normalisation at
 *   step t would depend on the envs stepped beside it in the same process.
 */

/** Running moments of a vector quantity (SB3's RunningMeanStd: mean, var, count), as stored. */
export interface RunningMomentsState {
  mean: number[];
  var: number[];
  count: number;
}

/** The normaliser's statistics and settings, as a checkpoint holds them. */
export interface NormalizationState {
  /** Observation moments; null when normalizeObs is off. */
  obs: RunningMomentsState | null;
  /** Moments of the discounted return, for reward scaling; null when normalizeReward is off. */
  ret: RunningMomentsState | null;
  clipObs: number;
  clipReward: number;
  epsilon: number;
}

/**
 * Which wrappers' semantics the per-env bookkeeping follows:
 * - "sb3": VecNormalize. The discounted return is `returns = returns·γ + r`, reset to 0 after any
 *   episode end (terminated or truncated: SB3's `dones`); observation moments see the reset
 *   observations and every observation a step returns (after auto-reset: never a terminal one).
 * - "gymnasium": NormalizeObservation / NormalizeReward of Gymnasium 1.x, as CleanRL stacks them
 *   per env. The return is `returns·γ·(1 − terminated) + r`: cleared only by a termination, and
 *   then before the terminal reward is added, so that reward carries into the next episode's
 *   return; a truncation clears nothing. Observation moments see every observation each env's
 *   wrapper sees: the reset observations and every step's, the terminal one included.
 */
export const NORMALIZE_STYLES = ["sb3", "gymnasium"] as const;
export type NormalizeStyle = (typeof NORMALIZE_STYLES)[number];

/**
 * When the statistics a collector normalises with move:
 * - "iteration": frozen at the learner's values for a whole rollout, shared by all envs, advanced
 *   once per iteration from the merged per-env moments (the first rollout sees the prior).
 * - "step": each env keeps statistics of its own, updated after every step by the style's rules, as
 *   Gymnasium's wrappers do when CleanRL stacks them on each env (and SB3's VecNormalize on one env).
 *   Env i's normalisation depends on env i's history alone, so a run split over runners still equals
 *   the run in one process bit for bit. The learner's merged statistics serve evaluation and export.
 */
export const NORMALIZE_UPDATES = ["iteration", "step"] as const;
export type NormalizeUpdate = (typeof NORMALIZE_UPDATES)[number];

/** SB3's defaults: VecNormalize(epsilon=1e-8, clip_obs=10, clip_reward=10), RunningMeanStd(epsilon=1e-4). */
export const NORMALIZE_EPSILON = 1e-8;
export const RMS_PRIOR_COUNT = 1e-4;

/** The settings of a run's normalisation (from its hyperparameters). */
export interface NormalizationSettings {
  normalizeObs: boolean;
  normalizeReward: boolean;
  clipObs: number;
  clipReward: number;
  gamma: number;
  style: NormalizeStyle;
  update: NormalizeUpdate;
}

/** The normalisation settings of a configuration; null when it normalises nothing. */
export function normalizationSettings(config: {
  normalizeObs?: boolean | undefined;
  normalizeReward?: boolean | undefined;
  clipObs?: number | undefined;
  clipReward?: number | undefined;
  normalizeStyle?: NormalizeStyle | undefined;
  normalizeUpdate?: NormalizeUpdate | undefined;
  gamma: number;
}): NormalizationSettings | null {
  const normalizeObs = config.normalizeObs ?? false;
  const normalizeReward = config.normalizeReward ?? false;
  if (!normalizeObs && !normalizeReward) return null;
  return {
    normalizeObs,
    normalizeReward,
    clipObs: config.clipObs ?? 10,
    clipReward: config.clipReward ?? 10,
    gamma: config.gamma,
    style: config.normalizeStyle ?? "sb3",
    update: config.normalizeUpdate ?? "iteration",
  };
}

/**
 * SB3's RunningMeanStd (running_mean_std.py): mean 0, var 1 and a prior count of 1e-4 to start,
 * float64 throughout, and batches merged by the parallel algorithm of Chan, Golub & LeVeque (1979)
 * (`update_from_moments`).
 */
export class RunningMeanStd {
  readonly mean: Float64Array;
  readonly var: Float64Array;
  count: number;

  constructor(
    readonly dim: number,
    epsilon = RMS_PRIOR_COUNT,
  ) {
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
    this.count = epsilon;
  }

  static fromState(state: RunningMomentsState): RunningMeanStd {
    if (state.mean.length !== state.var.length)
      throw new RangeError(`running moments of ${state.mean.length} means and ${state.var.length} variances`);
    const rms = new RunningMeanStd(state.mean.length, state.count);
    rms.mean.set(state.mean);
    rms.var.set(state.var);
    return rms;
  }

  getState(): RunningMomentsState {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }

  /**
   * `update(arr)`: the batch's mean and (population) variance along axis 0, two-pass as `np.mean` and
   * `np.var`, then merged. `x` holds `rows` rows of `dim` values.
   */
  update(x: ArrayLike<number>, rows: number): void {
    const d = this.dim;
    const batchMean = new Float64Array(d);
    const batchVar = new Float64Array(d);
    for (let r = 0; r < rows; r++) for (let k = 0; k < d; k++) batchMean[k]! += x[r * d + k]!;
    for (let k = 0; k < d; k++) batchMean[k]! /= rows;
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < d; k++) batchVar[k]! += (x[r * d + k]! - batchMean[k]!) ** 2;
    for (let k = 0; k < d; k++) batchVar[k]! /= rows;
    this.updateFromMoments(batchMean, batchVar, rows);
  }

  /**
   * `update` of one row (x[offset … offset+dim−1]) without allocating: a batch of one has its row as
   * mean and variance 0, and `updateFromMoments`' operations on those give the same float64 values
   * (x·1 = x, x + 0 = x), so this equals `update(row, 1)` bit for bit.
   */
  updateOne(x: ArrayLike<number>, offset: number): void {
    const count = this.count;
    const totCount = count + 1;
    for (let k = 0; k < this.dim; k++) {
      const delta = x[offset + k]! - this.mean[k]!;
      this.mean[k] = this.mean[k]! + delta / totCount;
      this.var[k] = (this.var[k]! * count + (delta * delta * count) / totCount) / totCount;
    }
    this.count = totCount;
  }

  /** SB3's `update_from_moments`, term for term (the same float64 operations in the same order). */
  updateFromMoments(batchMean: ArrayLike<number>, batchVar: ArrayLike<number>, batchCount: number): void {
    const totCount = this.count + batchCount;
    for (let k = 0; k < this.dim; k++) {
      const delta = batchMean[k]! - this.mean[k]!;
      const newMean = this.mean[k]! + (delta * batchCount) / totCount;
      const mA = this.var[k]! * this.count;
      const mB = batchVar[k]! * batchCount;
      const m2 = mA + mB + (delta * delta * this.count * batchCount) / (this.count + batchCount);
      this.mean[k] = newMean;
      this.var[k] = m2 / (this.count + batchCount);
    }
    this.count = batchCount + this.count;
  }
}

/** SB3's `_normalize_obs`: clip((obs − mean) / sqrt(var + ε), −clip, clip), cast to float32. */
export function normalizeObsInto(
  obs: ArrayLike<number>,
  rows: number,
  stats: { mean: ArrayLike<number>; var: ArrayLike<number> },
  epsilon: number,
  clip: number,
  out: Float32Array,
): Float32Array {
  const d = stats.mean.length;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < d; k++) {
      const z = (obs[r * d + k]! - stats.mean[k]!) / Math.sqrt(stats.var[k]! + epsilon);
      out[r * d + k] = Math.min(Math.max(z, -clip), clip);
    }
  }
  return out;
}

/** SB3's `normalize_reward`: clip(r / sqrt(ret_var + ε), −clip, clip), cast to float32. */
export function normalizeReward(reward: number, retVar: number, epsilon: number, clip: number): number {
  return Math.min(Math.max(reward / Math.sqrt(retVar + epsilon), -clip), clip);
}

/**
 * The per-step reference semantics, on flat arrays: `reset` and `step` take what the vector env
 * returned and answer the normalised observations and rewards (and terminal observations), updating
 * the statistics while `training`. Style "sb3" is SB3's VecNormalize (statistics shared by the envs);
 * style "gymnasium" is Gymnasium's NormalizeObservation/NormalizeReward on one env (their statistics
 * are per env: numEnvs must be 1). Proxima's PPO uses `RolloutNormalizer` (see the file's comment),
 * whose update "step" is this class on each env alone; this class is what the recorded fixtures check.
 */
export class VecNormalize {
  readonly obsRms: RunningMeanStd | null;
  readonly retRms: RunningMeanStd;
  /** Discounted returns per env (SB3's `returns`, Gymnasium's `discounted_reward`). */
  readonly returns: Float64Array;
  training = true;

  constructor(
    readonly numEnvs: number,
    readonly obsDim: number,
    readonly settings: NormalizationSettings,
    readonly epsilon = NORMALIZE_EPSILON,
  ) {
    if (settings.style === "gymnasium" && numEnvs !== 1)
      throw new RangeError("Gymnasium's normalisation wrappers keep statistics per env: one env here");
    this.obsRms = settings.normalizeObs ? new RunningMeanStd(obsDim) : null;
    this.retRms = new RunningMeanStd(1);
    this.returns = new Float64Array(numEnvs);
  }

  normalizeObs(obs: ArrayLike<number>, rows: number): Float32Array {
    const out = new Float32Array(rows * this.obsDim);
    if (!this.obsRms) {
      for (let i = 0; i < out.length; i++) out[i] = obs[i]!;
      return out;
    }
    return normalizeObsInto(obs, rows, this.obsRms, this.epsilon, this.settings.clipObs, out);
  }

  private updateObs(obs: ArrayLike<number>, rows: number): void {
    if (this.training && this.obsRms) this.obsRms.update(obs, rows);
  }

  /**
   * VecNormalize.reset: returns zeroed, reset observations merged into the statistics. Gymnasium's
   * NormalizeObservation also counts the reset observation; NormalizeReward keeps its return.
   */
  reset(obs: ArrayLike<number>): Float32Array {
    if (this.settings.style === "sb3") this.returns.fill(0);
    this.updateObs(obs, this.numEnvs);
    return this.normalizeObs(obs, this.numEnvs);
  }

  /**
   * One step; `obs` are the observations after auto-reset, `terminalObs` the final observations of
   * the envs whose episode ended. SB3 (VecNormalize.step_wait): obs statistics updated with `obs`,
   * then the return statistics with `returns·γ + r`, rewards scaled by the updated return variance,
   * terminal observations normalised with the updated statistics, and `returns[dones] = 0`.
   * Gymnasium (NormalizeObservation, NormalizeReward.step, then the auto-reset's reset): the
   * statistics see the terminal observation, which is normalised with them, then the reset one; the
   * return is `returns·γ·(1 − terminated) + r`.
   */
  step(
    obs: ArrayLike<number>,
    rewards: ArrayLike<number>,
    terminated: ArrayLike<number>,
    truncated: ArrayLike<number>,
    terminalObs: ArrayLike<number> | null,
  ): { obs: Float32Array; rewards: Float32Array; terminalObs: Float32Array | null } {
    const N = this.numEnvs;
    const { gamma, style } = this.settings;
    const done = (i: number): boolean => Boolean(terminated[i] || truncated[i]);
    let term: Float32Array | null = null;
    if (style === "sb3") {
      this.updateObs(obs, N);
    } else if (done(0) && terminalObs) {
      this.updateObs(terminalObs, 1);
      term = this.normalizeObs(terminalObs, 1);
    }
    // SB3 advances its returns only while training (`_update_reward`); Gymnasium always does.
    if (this.training || style === "gymnasium") {
      for (let i = 0; i < N; i++) {
        const keep = style === "gymnasium" && terminated[i] ? 0 : 1;
        this.returns[i] = this.returns[i]! * gamma * keep + rewards[i]!;
      }
    }
    if (this.training) this.retRms.update(this.returns, N);
    const r = new Float32Array(N);
    for (let i = 0; i < N; i++)
      r[i] = this.settings.normalizeReward
        ? normalizeReward(rewards[i]!, this.retRms.var[0]!, this.epsilon, this.settings.clipReward)
        : rewards[i]!;
    if (style === "sb3") {
      term = terminalObs ? this.normalizeObs(terminalObs, N) : null;
      for (let i = 0; i < N; i++) if (done(i)) this.returns[i] = 0;
    } else {
      // The step's observation when the episode goes on; the auto-reset's observation when it ended.
      this.updateObs(obs, 1);
    }
    return { obs: this.normalizeObs(obs, N), rewards: r, terminalObs: term };
  }
}

/**
 * The raw moments one collector saw in one iteration, per env (env order), for the learner to merge:
 * counts, means and sums of squared deviations (Welford's M2) of the observations (`obsDim` per env)
 * and of the discounted return.
 */
export interface EnvMoments {
  count: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
}

export interface NormalizationMoments {
  obs: EnvMoments | null;
  ret: EnvMoments | null;
}

function emptyMoments(numEnvs: number, dim: number): EnvMoments {
  return {
    count: new Float64Array(numEnvs),
    mean: new Float64Array(numEnvs * dim),
    m2: new Float64Array(numEnvs * dim),
  };
}

/** Welford's update of env i's moments with one sample `x` of `dim` values (x read from `offset`). */
function addSample(m: EnvMoments, i: number, dim: number, x: ArrayLike<number>, offset: number): void {
  const n = m.count[i]! + 1;
  m.count[i] = n;
  for (let k = 0; k < dim; k++) {
    const j = i * dim + k;
    const v = x[offset + k]!;
    const delta = v - m.mean[j]!;
    m.mean[j]! += delta / n;
    m.m2[j]! += delta * (v - m.mean[j]!);
  }
}

/** Concatenates runners' per-env moments in runner order (= global env order). */
export function concatMoments(
  parts: readonly (NormalizationMoments | undefined)[],
): NormalizationMoments | undefined {
  if (parts.some((p) => p === undefined)) {
    if (parts.every((p) => p === undefined)) return undefined;
    throw new RangeError("some rollouts carry normalisation moments and some do not");
  }
  const cat = (key: "obs" | "ret"): EnvMoments | null => {
    const ms = parts.map((p) => p![key]);
    if (ms.every((m) => m === null)) return null;
    if (ms.some((m) => m === null))
      throw new RangeError(`some rollouts carry ${key} moments and some do not`);
    const join = (f: "count" | "mean" | "m2"): Float64Array => {
      const out = new Float64Array(ms.reduce((s, m) => s + m![f].length, 0));
      let o = 0;
      for (const m of ms) {
        out.set(m![f], o);
        o += m![f].length;
      }
      return out;
    };
    return { count: join("count"), mean: join("mean"), m2: join("m2") };
  };
  return { obs: cat("obs"), ret: cat("ret") };
}

/** One env's own statistics under update "step" (a collector's state, carried across iterations). */
export interface EnvNormalizationState {
  obs: RunningMomentsState | null;
  ret: RunningMomentsState | null;
}

/**
 * The collector side: normalises one env runner's observations and rewards, keeps each env's
 * discounted return, and accumulates the iteration's raw moments per env for the learner. Under
 * update "iteration" it normalises with the learner's statistics, frozen; under "step" with each
 * env's own statistics, updated after every step (`NormalizeUpdate`).
 */
export class RolloutNormalizer {
  /** Discounted return per env, carried across iterations (part of the collector's state). */
  readonly returns: Float64Array;
  /** Reset observations not yet counted in any moments (a fresh reset counts them, as SB3's reset). */
  pendingReset = false;
  private stats: NormalizationState | null = null;
  private moments: NormalizationMoments;
  /** Update "step": env i's observation and return statistics; null under "iteration". */
  private readonly envObs: RunningMeanStd[] | null;
  private readonly envRet: RunningMeanStd[] | null;
  /** The last step's final observations of the envs whose episode ended, normalised ([numEnvs, obsDim]). */
  private readonly finalNorm: Float32Array;

  constructor(
    readonly numEnvs: number,
    readonly obsDim: number,
    readonly settings: NormalizationSettings,
  ) {
    this.returns = new Float64Array(numEnvs);
    this.moments = this.fresh();
    this.finalNorm = new Float32Array(numEnvs * obsDim);
    const perStep = settings.update === "step";
    this.envObs =
      perStep && settings.normalizeObs
        ? Array.from({ length: numEnvs }, () => new RunningMeanStd(obsDim))
        : null;
    this.envRet =
      perStep && settings.normalizeReward
        ? Array.from({ length: numEnvs }, () => new RunningMeanStd(1))
        : null;
  }

  private fresh(): NormalizationMoments {
    return {
      obs: this.settings.normalizeObs ? emptyMoments(this.numEnvs, this.obsDim) : null,
      ret: this.settings.normalizeReward ? emptyMoments(this.numEnvs, 1) : null,
    };
  }

  /** The statistics to normalise with until the next call (the learner's, sent with the weights). */
  setStats(stats: NormalizationState): void {
    if (
      (stats.obs !== null) !== this.settings.normalizeObs ||
      (stats.ret !== null) !== this.settings.normalizeReward
    )
      throw new RangeError("the normalisation statistics sent do not match the run's normalisation settings");
    if (stats.obs && stats.obs.mean.length !== this.obsDim)
      throw new RangeError(`observation statistics of ${stats.obs.mean.length} values for ${this.obsDim}`);
    this.stats = stats;
  }

  private get frozen(): NormalizationState {
    if (!this.stats) throw new Error("no normalisation statistics were sent to this collector");
    return this.stats;
  }

  /** Update "step": each env's own statistics (env order); undefined under "iteration". */
  getEnvStates(): EnvNormalizationState[] | undefined {
    if (this.settings.update !== "step") return undefined;
    return Array.from({ length: this.numEnvs }, (_, i) => ({
      obs: this.envObs?.[i]?.getState() ?? null,
      ret: this.envRet?.[i]?.getState() ?? null,
    }));
  }

  /** Continues each env's own statistics; absent (a state written under "iteration"): the prior. */
  setEnvStates(states: readonly EnvNormalizationState[] | undefined): void {
    if (this.settings.update !== "step") return;
    if (states && states.length !== this.numEnvs)
      throw new RangeError(
        `the state has normalisation statistics of ${states.length} envs for ${this.numEnvs}`,
      );
    const restore = (rms: RunningMeanStd, s: RunningMomentsState | null | undefined): void => {
      const from = s ?? new RunningMeanStd(rms.dim).getState();
      if (from.mean.length !== rms.dim)
        throw new RangeError(`env statistics of ${from.mean.length} values for ${rms.dim}`);
      rms.mean.set(from.mean);
      rms.var.set(from.var);
      rms.count = from.count;
    };
    for (let i = 0; i < this.numEnvs; i++) {
      if (this.envObs) restore(this.envObs[i]!, states?.[i]?.obs);
      if (this.envRet) restore(this.envRet[i]!, states?.[i]?.ret);
    }
  }

  /** Starts an iteration's moments; `obs` are the observations the first step acts on. */
  begin(obs: ArrayLike<number>): void {
    if (!this.stats) throw new Error("no normalisation statistics were sent to this collector");
    this.moments = this.fresh();
    if (this.pendingReset)
      for (let i = 0; i < this.numEnvs; i++) {
        if (this.moments.obs) addSample(this.moments.obs, i, this.obsDim, obs, i * this.obsDim);
        // Gymnasium's NormalizeObservation.reset and SB3's VecNormalize.reset count the reset observation.
        this.envObs?.[i]?.updateOne(obs, i * this.obsDim);
      }
    this.pendingReset = false;
  }

  /** Observations as the policy sees them (row i is env i's). */
  normalizeObs(obs: ArrayLike<number>, rows: number, out: Float32Array): Float32Array {
    const s = this.frozen;
    if (!s.obs) {
      for (let i = 0; i < rows * this.obsDim; i++) out[i] = obs[i]!;
      return out;
    }
    if (!this.envObs) return normalizeObsInto(obs, rows, s.obs, s.epsilon, s.clipObs, out);
    for (let i = 0; i < rows; i++) this.normalizeRow(obs, i, this.envObs[i]!, out, i * this.obsDim);
    return out;
  }

  /** Row i of `x` normalised into out[at …] as `normalizeObsInto` does, without views. */
  private normalizeRow(
    x: ArrayLike<number>,
    i: number,
    stats: { mean: ArrayLike<number>; var: ArrayLike<number> },
    out: Float32Array,
    at: number,
  ): void {
    const { epsilon, clipObs } = this.frozen;
    const d = this.obsDim;
    for (let k = 0; k < d; k++) {
      const z = (x[i * d + k]! - stats.mean[k]!) / Math.sqrt(stats.var[k]! + epsilon);
      out[at + k] = Math.min(Math.max(z, -clipObs), clipObs);
    }
  }

  /**
   * Env i's final observation of an episode that ended at the last step, as the policy would see it
   * (a view, valid until the next step): normalised when the step saw it, by the frozen statistics or,
   * under "step", by env i's after counting it (Gymnasium) or after the step's update (SB3's
   * `terminal_observation`).
   */
  finalObservation(i: number): Float32Array {
    return this.finalNorm.subarray(i * this.obsDim, (i + 1) * this.obsDim);
  }

  /**
   * One vector step: writes the rewards the learner trains on into `rewardsOut`, and counts the raw
   * observations and the returns into the iteration's moments, by the style's rules. Under "step"
   * env i's statistics move in the order of the reference wrappers (`VecNormalize.step`).
   */
  step(
    observations: ArrayLike<number>,
    rewards: ArrayLike<number>,
    terminated: ArrayLike<number>,
    truncated: ArrayLike<number>,
    finalObservations: ArrayLike<number>,
    rewardsOut: Float32Array,
  ): void {
    const s = this.frozen;
    const { gamma, style } = this.settings;
    const d = this.obsDim;
    const m = this.moments;
    for (let i = 0; i < this.numEnvs; i++) {
      const done = terminated[i] || truncated[i];
      const obsRms = this.envObs?.[i];
      if (m.obs) {
        // Gymnasium's per-env wrapper sees the terminal observation before its auto-reset.
        if (style === "gymnasium" && done) {
          addSample(m.obs, i, d, finalObservations, i * d);
          obsRms?.updateOne(finalObservations, i * d);
        }
        addSample(m.obs, i, d, observations, i * d);
        // SB3 counts the step's observation (after auto-reset) first; Gymnasium after the reward.
        if (style === "sb3") obsRms?.updateOne(observations, i * d);
      }
      if (done) {
        if (s.obs) this.normalizeRow(finalObservations, i, obsRms ?? s.obs, this.finalNorm, i * d);
        else for (let k = 0; k < d; k++) this.finalNorm[i * d + k] = finalObservations[i * d + k]!;
      }
      const r = rewards[i]!;
      if (style === "sb3") this.returns[i] = this.returns[i]! * gamma + r;
      else this.returns[i] = this.returns[i]! * gamma * (terminated[i] ? 0 : 1) + r;
      if (m.ret) addSample(m.ret, i, 1, this.returns, i);
      const retRms = this.envRet?.[i];
      retRms?.updateOne(this.returns, i);
      const retVar = retRms ? retRms.var[0]! : s.ret?.var[0];
      rewardsOut[i] = retVar === undefined ? r : normalizeReward(r, retVar, s.epsilon, s.clipReward);
      if (style === "sb3" && done) this.returns[i] = 0;
      if (style === "gymnasium") obsRms?.updateOne(observations, i * d);
    }
  }

  /** The iteration's moments (fresh arrays, owned by the caller). */
  end(): NormalizationMoments {
    const m = this.moments;
    this.moments = this.fresh();
    return m;
  }
}

/**
 * The learner side: the run's statistics, sent to collectors as a frozen `NormalizationState`, and
 * advanced once per iteration by merging the collectors' per-env moments one env at a time in global
 * env order (each env's moments are its own samples' alone, so the result does not depend on which
 * runner stepped which env).
 */
export class RunningNormalization {
  readonly obs: RunningMeanStd | null;
  readonly ret: RunningMeanStd | null;

  constructor(
    readonly obsDim: number,
    readonly settings: NormalizationSettings,
    readonly epsilon = NORMALIZE_EPSILON,
  ) {
    this.obs = settings.normalizeObs ? new RunningMeanStd(obsDim) : null;
    this.ret = settings.normalizeReward ? new RunningMeanStd(1) : null;
  }

  getState(): NormalizationState {
    return {
      obs: this.obs?.getState() ?? null,
      ret: this.ret?.getState() ?? null,
      clipObs: this.settings.clipObs,
      clipReward: this.settings.clipReward,
      epsilon: this.epsilon,
    };
  }

  /** Continues from a checkpoint's statistics (which must be for the same settings). */
  setState(state: NormalizationState): void {
    const restore = (rms: RunningMeanStd | null, s: RunningMomentsState | null, what: string): void => {
      if ((rms === null) !== (s === null))
        throw new RangeError(
          `the checkpoint's ${what} statistics do not match the configuration's normalisation`,
        );
      if (rms && s) {
        if (s.mean.length !== rms.dim)
          throw new RangeError(`${what} statistics of ${s.mean.length} values for ${rms.dim}`);
        rms.mean.set(s.mean);
        rms.var.set(s.var);
        rms.count = s.count;
      }
    };
    restore(this.obs, state.obs, "observation");
    restore(this.ret, state.ret, "return");
  }

  /** Merges one iteration's per-env moments (global env order). */
  absorb(moments: NormalizationMoments | undefined): void {
    if (!moments) throw new Error("the rollout carries no normalisation moments; the run normalises");
    mergeEnvMoments(this.obs, moments.obs, "observation");
    mergeEnvMoments(this.ret, moments.ret, "return");
  }
}

function mergeEnvMoments(rms: RunningMeanStd | null, m: EnvMoments | null, what: string): void {
  if (rms === null) return;
  if (m === null) throw new Error(`the rollout carries no ${what} moments`);
  const d = rms.dim;
  const batchVar = new Float64Array(d);
  for (let i = 0; i < m.count.length; i++) {
    const n = m.count[i]!;
    if (n === 0) continue;
    for (let k = 0; k < d; k++) batchVar[k] = m.m2[i * d + k]! / n;
    rms.updateFromMoments(m.mean.subarray(i * d, (i + 1) * d), batchVar, n);
  }
}
