/**
 * The env-runner half of PPO (RLlib's EnvRunner): steps a VectorEnv with the current policy and
 * records a `Rollout` of typed arrays. It needs only the policy weights (actor and log-std), never
 * the critic: values are the learner's job, so that a runner in another process can work from
 * serialized weights alone.
 */
import { deriveSeed, Rng, type RngState } from "../core/rng.ts";
import {
  type AsyncVectorEnv,
  VectorEnv,
  type VectorEnvState,
  type VectorStepResult,
} from "../envs/vector.ts";
import type { ActionSpec } from "../nn/actor-critic.ts";
import type { Allocator } from "../nn/arena.ts";
import type { MlpKernel } from "../nn/mlp.ts";
import {
  gsdeStd,
  resamplesAt,
  type SdeOptions,
  sampleActionsSde,
  sampleExplorationMatrices,
} from "./gsde.ts";
import {
  type EnvNormalizationState,
  type NormalizationMoments,
  type NormalizationSettings,
  type NormalizationState,
  RolloutNormalizer,
} from "./normalize.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** One finished episode. */
export interface EpisodeRecord {
  return: number;
  length: number;
  /**
   * Flat index t·numEnvs + i of the step that ended it: merged rollouts list episodes in this order,
   * as one vector env of all the envs would (metrics average them; the order fixes the rounding).
   */
  at: number;
}

/**
 * A rollout of numSteps × numEnvs transitions, time-major (index t·numEnvs + i). For Box actions
 * `actions` holds the unclipped Gaussian samples (their log-probs are in `logprobs`); the env was
 * stepped with them clipped to the bounds (CleanRL's ClipAction wrapper).
 */
export interface Rollout {
  numSteps: number;
  numEnvs: number;
  obsDim: number;
  /** 1 for Discrete (the index as a float), the Box dimension otherwise. */
  actDim: number;
  /** Version of the policy weights that acted. */
  policyVersion: number;
  obs: Float32Array;
  actions: Float32Array;
  logprobs: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** Observations after the last step, [numEnvs, obsDim], for the bootstrap value. */
  nextObs: Float32Array;
  /** Flat indices of steps truncated (and not terminated), and their final observations [k, obsDim]. */
  truncatedIndex: Int32Array;
  truncatedObs: Float32Array;
  episodes: EpisodeRecord[];
  /**
   * When the run normalises (rl/ppo/normalize.ts): `obs`, `nextObs`, `truncatedObs` and `rewards` are
   * normalised with the statistics the collector was sent, and these are the raw moments (per env) of
   * what the envs returned, for the learner to merge.
   */
  normalization?: NormalizationMoments;
  /** Seconds spent stepping the envs and running the policy. */
  envSeconds: number;
  inferenceSeconds: number;
}

/**
 * What a collector needs to continue exactly: one action stream per env (env order) and the envs.
 * States written before per-env streams hold one stream `rng` for all envs instead of `rngs`; see
 * `actionStreamStates` for how they continue.
 */
export interface RolloutCollectorState {
  rngs: RngState[];
  /** The single action stream of states written before per-env streams (read, never written). */
  rng?: RngState;
  env: VectorEnvState;
  policyVersion: number;
  /** Each env's discounted return for reward normalisation (env order); absent when it is off. */
  returns?: number[];
  /** Each env's own normalisation statistics under update "step" (env order); absent otherwise. */
  envNormalization?: EnvNormalizationState[];
}

/**
 * Action sampling draws from one stream per env, keyed by the env's GLOBAL index in the run (its
 * place in the merged batch), never by which runner steps it: so a run's rollouts depend on its seed
 * and its number of envs only, however the envs are split over runners (issue 14, item 8). The
 * streams' common root is deriveSeed(seed, 1), the single action stream of earlier versions; env g's
 * stream is seeded deriveSeed(root, g). Exploration noise drawn per env (gSDE's matrices) comes from
 * the same stream.
 */
export const ACTION_STREAM = 1;

export function actionStreamSeed(seed: number, globalEnv: number): number {
  return deriveSeed(deriveSeed(seed, ACTION_STREAM), globalEnv);
}

/** The action streams of the `count` envs whose global indices start at `firstEnv`. */
export function actionStreams(seed: number, firstEnv: number, count: number): Rng[] {
  return Array.from({ length: count }, (_, i) => new Rng(actionStreamSeed(seed, firstEnv + i)));
}

/**
 * The per-env stream states of a collector state of `state.env.numEnvs` envs. A state from before
 * per-env streams (one stream `rng`) continues with env i's stream seeded deriveSeed(r, i), where r
 * is the old stream's next output: deterministic, and since r changes every iteration, no iteration
 * reuses another's draws. It does not continue the old single stream draw for draw. Applied to a
 * whole run's merged state (global env order), the result does not depend on the split either.
 */
export function actionStreamStates(state: Pick<RolloutCollectorState, "rngs" | "rng" | "env">): RngState[] {
  const n = state.env.numEnvs;
  if (state.rngs !== undefined) {
    if (state.rngs.length !== n)
      throw new RangeError(`the state has ${state.rngs.length} action streams for ${n} envs`);
    return state.rngs;
  }
  if (state.rng === undefined) throw new RangeError("the collector state has no action stream");
  const root = Rng.fromState(state.rng).nextUint32();
  return Array.from({ length: n }, (_, i) => new Rng(deriveSeed(root, i)).getState());
}

/**
 * Samples one action per row of policy outputs, row i (env i) from `rngs[i]`; writes env actions,
 * stored actions and log-probs.
 */
export function sampleActions(
  action: ActionSpec,
  out: Float32Array,
  logstd: Float32Array | null,
  rows: number,
  rngs: readonly Rng[],
  envActions: Int32Array | Float32Array,
  actions: Float32Array,
  logprobs: Float32Array,
): void {
  if (action.kind === "discrete") {
    const n = action.n;
    for (let i = 0; i < rows; i++) {
      const o = i * n;
      let max = -Infinity;
      for (let j = 0; j < n; j++) if (out[o + j] > max) max = out[o + j];
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(out[o + j] - max);
      // Inverse-CDF sampling of Categorical(logits=out).
      const u = rngs[i]!.uniform() * sum;
      let a = n - 1;
      let acc = 0;
      for (let j = 0; j < n; j++) {
        acc += Math.exp(out[o + j] - max);
        if (u < acc) {
          a = j;
          break;
        }
      }
      envActions[i] = a;
      actions[i] = a;
      logprobs[i] = out[o + a] - max - Math.log(sum);
    }
    return;
  }
  const d = action.dim;
  for (let i = 0; i < rows; i++) {
    const rng = rngs[i]!;
    let lp = 0;
    for (let k = 0; k < d; k++) {
      const std = Math.exp(logstd![k]);
      const z = rng.normal();
      const a = out[i * d + k] + std * z;
      actions[i * d + k] = a;
      envActions[i * d + k] = Math.min(Math.max(a, action.low[k]), action.high[k]);
      lp += -0.5 * z * z - logstd![k] - HALF_LOG_2PI;
    }
    logprobs[i] = lp;
  }
}

/** Deterministic actions for evaluation: argmax of the logits, or the mean clipped to the bounds. */
export function greedyActions(
  action: ActionSpec,
  out: Float32Array,
  rows: number,
  envActions: Int32Array | Float32Array,
): void {
  if (action.kind === "discrete") {
    const n = action.n;
    for (let i = 0; i < rows; i++) {
      let best = 0;
      for (let j = 1; j < n; j++) if (out[i * n + j] > out[i * n + best]) best = j;
      envActions[i] = best;
    }
  } else {
    const d = action.dim;
    for (let i = 0; i < rows * d; i++)
      envActions[i] = Math.min(Math.max(out[i], action.low[i % d]), action.high[i % d]);
  }
}

export class RolloutCollector {
  /** In-process (stepped synchronously) or in another process (an environment defined by code). */
  readonly env: VectorEnv | AsyncVectorEnv;
  readonly numSteps: number;
  /** One action stream per env (env i samples from rngs[i]); see `actionStreams`. */
  readonly rngs: readonly Rng[];
  private readonly action: ActionSpec;
  private readonly actor: MlpKernel;
  private readonly logstdOffset: number;
  private readonly rollout: Rollout;
  private readonly envActions: Int32Array | Float32Array;
  private readonly truncIdx: number[] = [];
  private readonly truncObs: number[] = [];
  /** The policy weights [actor | logstd] the collector acts with, and views of its two parts. */
  readonly policy: Float32Array;
  private readonly actorParams: Float32Array;
  private readonly logstd: Float32Array | null;
  /** gSDE's runner-side state: env i's exploration matrix [H, d] and exp(logstd)² of this rollout. */
  private readonly sde: {
    options: SdeOptions;
    H: number;
    exploration: Float32Array;
    std: Float64Array;
    stdSq: Float64Array;
  } | null;
  policyVersion = 0;
  /** Observation/reward normalisation with frozen statistics; null when the run normalises nothing. */
  normalizer: RolloutNormalizer | null = null;

  constructor(
    env: VectorEnv | AsyncVectorEnv,
    action: ActionSpec,
    actor: MlpKernel,
    policySize: number,
    numSteps: number,
    rngs: readonly Rng[],
    alloc: Allocator,
    sde: SdeOptions | null = null,
  ) {
    if (rngs.length !== env.numEnvs)
      throw new RangeError(`${rngs.length} action streams for ${env.numEnvs} envs: one per env`);
    this.env = env;
    this.action = action;
    this.actor = actor;
    this.numSteps = numSteps;
    this.rngs = rngs;
    this.logstdOffset = actor.layout.size;
    this.policy = alloc.alloc(policySize);
    this.actorParams = this.policy.subarray(0, this.logstdOffset);
    this.logstd = action.kind === "box" ? this.policy.subarray(this.logstdOffset) : null;
    if (sde && action.kind !== "box") throw new RangeError("gSDE needs a Box action space");
    const H = actor.layout.sizes[actor.layout.sizes.length - 2]!;
    this.sde =
      sde && action.kind === "box"
        ? {
            options: sde,
            H,
            exploration: new Float32Array(env.numEnvs * H * action.dim),
            std: new Float64Array(H * action.dim),
            stdSq: new Float64Array(H * action.dim),
          }
        : null;
    if (this.sde && policySize !== this.logstdOffset + this.sde.stdSq.length)
      throw new RangeError(`gSDE policy weights need a log-std matrix [${H}, ${this.sde.stdSq.length / H}]`);
    const N = env.numEnvs;
    const obsDim = env.observationDim;
    const actDim = action.kind === "discrete" ? 1 : action.dim;
    const size = numSteps * N;
    this.envActions = action.kind === "discrete" ? new Int32Array(N) : new Float32Array(N * actDim);
    this.rollout = {
      numSteps,
      numEnvs: N,
      obsDim,
      actDim,
      policyVersion: 0,
      obs: new Float32Array(size * obsDim),
      actions: new Float32Array(size * actDim),
      logprobs: new Float32Array(size),
      rewards: new Float32Array(size),
      terminated: new Uint8Array(size),
      truncated: new Uint8Array(size),
      nextObs: new Float32Array(N * obsDim),
      truncatedIndex: new Int32Array(0),
      truncatedObs: new Float32Array(0),
      episodes: [],
      envSeconds: 0,
      inferenceSeconds: 0,
    };
  }

  setPolicy(weights: Float32Array, version: number): void {
    if (weights.length !== this.policy.length) {
      throw new RangeError(`policy weights have ${weights.length} floats, expected ${this.policy.length}`);
    }
    this.policy.set(weights);
    this.policyVersion = version;
  }

  /** Normalises observations and rewards from now on (rl/ppo/normalize.ts); null: never. */
  configureNormalization(settings: NormalizationSettings | null): void {
    this.normalizer = settings && new RolloutNormalizer(this.env.numEnvs, this.env.observationDim, settings);
  }

  /** The statistics to normalise with (the learner's, sent with the weights), frozen until the next call. */
  setNormalization(stats: NormalizationState | null | undefined): void {
    if (!this.normalizer) return;
    if (!stats) throw new Error("the run normalises but no normalisation statistics were sent");
    this.normalizer.setStats(stats);
  }

  /** Resets an in-process env (env i seeded seed + i). */
  reset(seed: number): void {
    this.syncEnv().reset({ seed });
    this.afterReset();
  }

  /** Resets the env wherever it steps. */
  async start(seed: number): Promise<void> {
    await this.env.reset({ seed });
    this.afterReset();
  }

  /** As SB3's VecNormalize.reset: returns restart, and the reset observations count in the next moments. */
  private afterReset(): void {
    if (!this.normalizer) return;
    this.normalizer.returns.fill(0);
    this.normalizer.pendingReset = true;
  }

  /** Steps numSteps × numEnvs transitions of an in-process env. The returned arrays are reused by the next call. */
  collect(): Rollout {
    const env = this.syncEnv();
    let obs = this.begin();
    for (let t = 0; t < this.numSteps; t++) {
      const t1 = this.act(t, obs);
      obs = this.record(t, env.step(this.envActions), t1);
    }
    return this.end(obs);
  }

  /**
   * `collect` for an env in another process: one crossing per step for all its sub-envs, and one
   * for the state at the end. An in-process env is stepped by `collect` itself, without promises.
   */
  async collectAsync(): Promise<Rollout> {
    const env = this.env;
    if (env instanceof VectorEnv) return this.collect();
    let obs = this.begin();
    for (let t = 0; t < this.numSteps; t++) {
      const t1 = this.act(t, obs);
      obs = this.record(t, await env.step(this.envActions), t1);
    }
    await env.captureState();
    return this.end(obs);
  }

  private syncEnv(): VectorEnv {
    if (!(this.env instanceof VectorEnv))
      throw new TypeError("this env steps in another process: use collectAsync()");
    return this.env;
  }

  private begin(): Float32Array {
    const r = this.rollout;
    this.truncIdx.length = 0;
    this.truncObs.length = 0;
    r.episodes = [];
    r.envSeconds = 0;
    r.inferenceSeconds = 0;
    r.policyVersion = this.policyVersion;
    this.normalizer?.begin(this.env.observations);
    return this.env.observations;
  }

  /** Records step t's observations and samples its actions into `envActions`; returns when it ended. */
  private act(t: number, obs: Float32Array): number {
    const r = this.rollout;
    const N = r.numEnvs;
    const { obsDim, actDim } = r;
    const base = t * N;
    if (this.normalizer)
      this.normalizer.normalizeObs(obs, N, r.obs.subarray(base * obsDim, (base + N) * obsDim));
    else r.obs.set(obs, base * obsDim);
    const t0 = performance.now();
    const out = this.actor.forward(this.actorParams, r.obs.subarray(base * obsDim, (base + N) * obsDim), N);
    if (this.sde) this.actSde(t, out, base);
    else
      sampleActions(
        this.action,
        out,
        this.logstd,
        N,
        this.rngs,
        this.envActions,
        r.actions.subarray(base * actDim, (base + N) * actDim),
        r.logprobs.subarray(base, base + N),
      );
    const t1 = performance.now();
    r.inferenceSeconds += (t1 - t0) / 1000;
    return t1;
  }

  /**
   * gSDE's step t: new exploration matrices at the rollout's start and every sdeSampleFreq steps
   * (SB3 collect_rollouts' reset_noise), env i's drawn from env i's own action stream; then actions
   * mean + latent·E_i from the actor's last hidden features.
   */
  private actSde(t: number, mean: Float32Array, base: number): void {
    const sde = this.sde!;
    const r = this.rollout;
    const { actDim } = r;
    const N = r.numEnvs;
    if (resamplesAt(t, sde.options.sampleFreq)) {
      gsdeStd(this.logstd!, sde.std, sde.stdSq);
      sampleExplorationMatrices(sde.std, this.rngs, sde.exploration);
    }
    sampleActionsSde(
      this.action as Extract<ActionSpec, { kind: "box" }>,
      mean,
      this.actor.hidden(),
      sde.stdSq,
      sde.exploration,
      sde.H,
      N,
      this.envActions,
      r.actions.subarray(base * actDim, (base + N) * actDim),
      r.logprobs.subarray(base, base + N),
    );
  }

  /** Records what step t's env step returned; answers the observations the next step acts on. */
  private record(t: number, step: VectorStepResult, stepStarted: number): Float32Array {
    const r = this.rollout;
    const N = r.numEnvs;
    const { obsDim } = r;
    const base = t * N;
    if (this.normalizer)
      this.normalizer.step(
        step.observations,
        step.rewards,
        step.terminated,
        step.truncated,
        step.finalObservations,
        r.rewards.subarray(base, base + N),
      );
    else r.rewards.set(step.rewards, base);
    r.terminated.set(step.terminated, base);
    r.truncated.set(step.truncated, base);
    for (let i = 0; i < N; i++) {
      if (step.truncated[i] && !step.terminated[i]) {
        this.truncIdx.push(base + i);
        // The bootstrap value sees what the policy would: normalised as the step normalised it.
        if (this.normalizer) for (const v of this.normalizer.finalObservation(i)) this.truncObs.push(v);
        else for (let k = 0; k < obsDim; k++) this.truncObs.push(step.finalObservations[i * obsDim + k]);
      }
    }
    for (const e of step.episodes)
      r.episodes.push({ return: e.return, length: e.length, at: base + e.index });
    r.envSeconds += (performance.now() - stepStarted) / 1000;
    return step.observations;
  }

  private end(obs: Float32Array): Rollout {
    const r = this.rollout;
    r.truncatedIndex = Int32Array.from(this.truncIdx);
    r.truncatedObs = Float32Array.from(this.truncObs);
    const norm = this.normalizer;
    if (norm) {
      // The bootstrap values see what the policy would (truncated observations were normalised as
      // their step saw them: SB3 normalises `terminal_observation` in step_wait).
      norm.normalizeObs(obs, r.numEnvs, r.nextObs);
      r.normalization = norm.end();
    } else r.nextObs.set(obs);
    return r;
  }

  getState(): RolloutCollectorState {
    const envNormalization = this.normalizer?.getEnvStates();
    return {
      rngs: this.rngs.map((r) => r.getState()),
      env: this.env.getState(),
      policyVersion: this.policyVersion,
      ...(this.normalizer ? { returns: Array.from(this.normalizer.returns) } : {}),
      ...(envNormalization ? { envNormalization } : {}),
    };
  }

  /** Restores an in-process env's collector. */
  setState(state: RolloutCollectorState): void {
    const rngs = actionStreamStates(state);
    this.syncEnv().setState(state.env);
    this.setStreams(rngs);
    this.policyVersion = state.policyVersion;
    this.restoreReturns(state);
  }

  /** Restores the collector wherever its env steps. */
  async restore(state: RolloutCollectorState): Promise<void> {
    const rngs = actionStreamStates(state);
    await this.env.setState(state.env);
    this.setStreams(rngs);
    this.policyVersion = state.policyVersion;
    this.restoreReturns(state);
  }

  /**
   * A restored collector continues its envs' discounted returns; a state written without them (the
   * run did not normalise rewards then) starts them at 0. Its reset observations were counted already.
   */
  private restoreReturns(state: RolloutCollectorState): void {
    if (!this.normalizer) return;
    this.normalizer.pendingReset = false;
    this.normalizer.returns.fill(0);
    if (state.returns) {
      if (state.returns.length !== this.normalizer.returns.length)
        throw new RangeError(
          `the state has ${state.returns.length} returns for ${this.normalizer.returns.length} envs`,
        );
      this.normalizer.returns.set(state.returns);
    }
    this.normalizer.setEnvStates(state.envNormalization);
  }

  private setStreams(states: readonly RngState[]): void {
    for (const [i, rng] of this.rngs.entries()) rng.setState(states[i]!);
  }
}
