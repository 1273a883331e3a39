/**
 * A synchronous vector env over N copies of one environment, after Gymnasium 1.x's `SyncVectorEnv`
 * with `RecordEpisodeStatistics` folded in, built for rollout speed: every array it returns is
 * preallocated once and overwritten in place on each call (copy what you keep).
 *
 * Autoreset mode: Gymnasium's SAME_STEP (`AutoresetMode.SAME_STEP`). When env i terminates or is
 * truncated on a step, it is reset within that same step: row i of `observations` is already the first
 * observation of its next episode, and the last observation of the finished episode is in row i of
 * `finalObservations` (with `hasFinal[i] = 1`). Why this mode: PPO with GAE as in CleanRL bootstraps a
 * truncated episode from the value of its final observation, and needs that observation in the very
 * step where the truncation happened, while the next policy step must already act on the fresh
 * episode. NEXT_STEP (Gymnasium's default) would instead return the final observation now and the reset
 * observation on the next call, with an action that is ignored — a transition PPO would have to mask.
 *
 * Seeding: `reset({ seed })` seeds env i with `seed + i` (Gymnasium's convention); autoresets continue
 * each env's own stream, so a seeded run is reproducible end to end.
 */

import { describeSpace } from "../core/spaces.ts";
import type { BoxSpace, Space } from "../core/types.ts";
import type { ClassicControlEnv, EnvSnapshot } from "./env-base.ts";
import { EnvError } from "./errors.ts";
import { F32, type Kind } from "./numpy-scalars.ts";
import { type MakeEnvOptions, makeEnv } from "./registry.ts";

/** One finished episode, as `RecordEpisodeStatistics` reports it (`info["episode"]`: r, l). */
export interface EpisodeStats {
  /** Index of the sub-env. */
  index: number;
  /** Sum of the episode's rewards, accumulated in float64. */
  return: number;
  /** Number of steps in the episode. */
  length: number;
}

export interface VectorStepResult {
  /** N × obsDim; row i is the first observation of a new episode where env i finished this step. */
  observations: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** N × obsDim; row i is the last observation of the episode that env i finished this step (hasFinal[i]). */
  finalObservations: Float32Array;
  hasFinal: Uint8Array;
  /** Episodes that ended on this step (empty on most steps). */
  episodes: EpisodeStats[];
}

/**
 * The state of one sub-env of an environment defined by code (it runs in a sandbox): what the env's
 * own `getState()` returned (null when it has none), its step count in the episode, and what seeds a
 * fresh episode when it cannot be restored exactly.
 */
export interface CodeEnvSnapshot {
  id: string;
  kind: "code";
  elapsedSteps: number;
  /** The env's own state (JSON), or null for an env without getState/setState. */
  custom: unknown;
  /** The seed of the env's first reset, and how many episodes it has begun since. */
  firstSeed: number;
  episodes: number;
  /** The observation the next step acts on (code envs have no way to recompute it from a state). */
  observation: number[];
}

export type SubEnvSnapshot = EnvSnapshot | CodeEnvSnapshot;

/** Everything needed to resume the vector env exactly (JSON-safe). */
export interface VectorEnvState {
  version: 1;
  id: string;
  numEnvs: number;
  started: boolean;
  envs: SubEnvSnapshot[];
  episodeReturns: number[];
  episodeLengths: number[];
}

/** What a policy network and a rollout collector need to know of a vector env, wherever it steps. */
export interface VectorEnvSpaces {
  readonly id: string;
  readonly numEnvs: number;
  readonly singleObservationSpace: BoxSpace;
  readonly singleActionSpace: Space;
  readonly observationDim: number;
  readonly actionDim: number;
}

/**
 * A vector env whose sub-envs step in another process (an environment defined by code, in the
 * sandbox): VectorEnv's contract (SAME_STEP autoreset, episode statistics, reused result arrays),
 * each call a promise. State is read by `captureState` (a crossing, done once per rollout) and
 * answered by `getState` from that capture, so that a rollout's state costs no extra round trip.
 */
export interface AsyncVectorEnv extends VectorEnvSpaces {
  readonly observations: Float32Array;
  reset(options?: { seed?: number }): Promise<Float32Array>;
  step(actions: Int32Array | Float32Array): Promise<VectorStepResult>;
  captureState(): Promise<void>;
  /** The state at the last `captureState` (or reset/setState). */
  getState(): VectorEnvState;
  setState(state: VectorEnvState): Promise<void>;
  close(): Promise<void>;
}

/** A vector step's actions: N indices as an Int32Array (Discrete), N × actDim values as a Float32Array (Box). */
export function checkVectorActions(env: VectorEnvSpaces, actions: Int32Array | Float32Array): void {
  const discrete = env.singleActionSpace.kind === "discrete";
  const expected = env.numEnvs * env.actionDim;
  if (discrete ? !(actions instanceof Int32Array) : !(actions instanceof Float32Array)) {
    throw new EnvError(
      "INVALID_ACTION",
      `actions for ${describeSpace(env.singleActionSpace)} must be ${discrete ? "an Int32Array" : "a Float32Array"}`,
      env.id,
    );
  }
  if (actions.length !== expected) {
    throw new EnvError(
      "INVALID_ACTION",
      `actions must have ${expected} values (${env.numEnvs} envs × ${env.actionDim}), got ${actions.length}`,
      env.id,
    );
  }
}

/** A state from `getState()` of a vector env of this env's id and size (`setState`'s first check). */
export function checkVectorState(env: VectorEnvSpaces, state: VectorEnvState): void {
  if (state?.version !== 1)
    throw new EnvError("INVALID_STATE", "unsupported vector env state version", env.id);
  if (state.id !== env.id || state.numEnvs !== env.numEnvs || state.envs.length !== env.numEnvs) {
    throw new EnvError(
      "INVALID_STATE",
      `state is for ${state.numEnvs} × ${state.id}, this vector env is ${env.numEnvs} × ${env.id}`,
      env.id,
    );
  }
}

function isClassicSnapshot(s: SubEnvSnapshot): s is EnvSnapshot {
  return !("kind" in s && s.kind === "code");
}

export class VectorEnv implements VectorEnvSpaces {
  readonly numEnvs: number;
  readonly id: string;
  readonly singleObservationSpace: BoxSpace;
  readonly singleActionSpace: Space;
  readonly observationDim: number;
  readonly actionDim: number;

  private readonly envs: readonly ClassicControlEnv[];
  private readonly result: VectorStepResult;
  private readonly episodeReturns: Float64Array;
  private readonly episodeLengths: Int32Array;
  private started = false;

  constructor(envs: readonly ClassicControlEnv[]) {
    if (envs.length === 0) throw new EnvError("INVALID_OPTION", "a vector env needs at least one env");
    const first = envs[0];
    for (const env of envs) {
      if (env.id !== first.id || env.maxEpisodeSteps !== first.maxEpisodeSteps) {
        throw new EnvError("INVALID_OPTION", "all envs of a vector env must share the id and the time limit");
      }
      if (envs.indexOf(env) !== envs.lastIndexOf(env)) {
        throw new EnvError("INVALID_OPTION", "the same env instance appears twice in a vector env");
      }
    }
    this.envs = [...envs];
    this.numEnvs = envs.length;
    this.id = first.id;
    this.singleObservationSpace = first.observationSpace;
    this.singleActionSpace = first.actionSpace;
    this.observationDim = first.observationDim;
    this.actionDim = first.actionDim;
    const n = this.numEnvs;
    const obsSize = n * this.observationDim;
    this.result = {
      observations: new Float32Array(obsSize),
      rewards: new Float32Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      finalObservations: new Float32Array(obsSize),
      hasFinal: new Uint8Array(n),
      episodes: [],
    };
    this.episodeReturns = new Float64Array(n);
    this.episodeLengths = new Int32Array(n);
  }

  /** Resets every env (env i with `seed + i` when a seed is given) and returns the N × obsDim observations. */
  reset(options: { seed?: number } = {}): Float32Array {
    const { seed } = options;
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new EnvError("INVALID_OPTION", `seed must be an integer, got ${seed}`, this.id);
    }
    const r = this.result;
    const dim = this.observationDim;
    for (let i = 0; i < this.numEnvs; i++) {
      this.envs[i].resetInto(r.observations, i * dim, seed === undefined ? undefined : seed + i);
    }
    r.rewards.fill(0);
    r.terminated.fill(0);
    r.truncated.fill(0);
    r.finalObservations.fill(0);
    r.hasFinal.fill(0);
    r.episodes.length = 0;
    this.episodeReturns.fill(0);
    this.episodeLengths.fill(0);
    this.started = true;
    return r.observations;
  }

  /**
   * Steps every env with its action: an Int32Array of N indices (Discrete) or a Float32Array of
   * N × actDim values (Box). The returned object and its arrays are reused by the next call.
   * If a sub-env throws (an invalid action value, a NaN observation), the envs before it have already
   * stepped: treat the vector env as broken and `reset()` it (or `setState` a saved state).
   */
  step(actions: Int32Array | Float32Array): VectorStepResult {
    if (!this.started) throw new EnvError("RESET_NEEDED", "call reset() before step()", this.id);
    checkVectorActions(this, actions);
    const r = this.result;
    const n = this.numEnvs;
    const dim = this.observationDim;
    const actDim = this.actionDim;
    const obs = r.observations;
    const finalObs = r.finalObservations;
    // Float32 Box actions are np.float32 values for the NumPy-faithful envs.
    const kind: Kind = F32;
    r.episodes.length = 0;
    for (let i = 0; i < n; i++) {
      const env = this.envs[i];
      const row = i * dim;
      if (r.hasFinal[i] === 1) {
        finalObs.fill(0, row, row + dim);
        r.hasFinal[i] = 0;
      }
      const reward = env.stepInto(actions, i * actDim, kind, obs, row);
      const terminated = env.lastTerminated;
      const truncated = env.lastTruncatedFlag;
      r.rewards[i] = reward;
      r.terminated[i] = terminated ? 1 : 0;
      r.truncated[i] = truncated ? 1 : 0;
      this.episodeReturns[i] += reward;
      this.episodeLengths[i] += 1;
      if (terminated || truncated) {
        finalObs.set(obs.subarray(row, row + dim), row);
        r.hasFinal[i] = 1;
        r.episodes.push({ index: i, return: this.episodeReturns[i], length: this.episodeLengths[i] });
        this.episodeReturns[i] = 0;
        this.episodeLengths[i] = 0;
        env.resetInto(obs, row);
      }
    }
    return r;
  }

  getState(): VectorEnvState {
    return {
      version: 1,
      id: this.id,
      numEnvs: this.numEnvs,
      started: this.started,
      envs: this.envs.map((env) => env.snapshot()),
      episodeReturns: Array.from(this.episodeReturns),
      episodeLengths: Array.from(this.episodeLengths),
    };
  }

  /**
   * Restores a state from `getState()`: the next `step` continues exactly as the saved vector env
   * would have. `observations` are recomputed from the restored physical states.
   */
  setState(state: VectorEnvState): void {
    checkVectorState(this, state);
    if (state.episodeReturns.length !== this.numEnvs || state.episodeLengths.length !== this.numEnvs) {
      throw new EnvError("INVALID_STATE", "episode statistics must have one entry per env", this.id);
    }
    for (let i = 0; i < this.numEnvs; i++) {
      const snap = state.envs[i];
      if (!isClassicSnapshot(snap))
        throw new EnvError("INVALID_STATE", "the state is of an environment defined by code", this.id);
      this.envs[i].restore(snap);
    }
    this.episodeReturns.set(state.episodeReturns);
    this.episodeLengths.set(state.episodeLengths);
    this.started = state.started;
    const r = this.result;
    const dim = this.observationDim;
    r.finalObservations.fill(0);
    r.hasFinal.fill(0);
    r.episodes.length = 0;
    r.rewards.fill(0);
    r.terminated.fill(0);
    r.truncated.fill(0);
    // The current observations follow from the restored physical states.
    for (let i = 0; i < this.numEnvs; i++) this.envs[i].observeInto(r.observations, i * dim);
  }

  /** The current N × obsDim observations (the buffer `reset` and `step` write into). */
  get observations(): Float32Array {
    return this.result.observations;
  }

  /** Frees what the sub-envs hold outside JavaScript's heap (MuJoCo's data); unusable afterwards. */
  close(): void {
    for (const env of this.envs) env.close();
  }
}

export function makeVectorEnv(id: string, numEnvs: number, options: MakeEnvOptions = {}): VectorEnv {
  if (!Number.isInteger(numEnvs) || numEnvs <= 0) {
    throw new EnvError("INVALID_OPTION", `numEnvs must be a positive integer, got ${numEnvs}`, id);
  }
  const envs: ClassicControlEnv[] = [];
  try {
    for (let i = 0; i < numEnvs; i++) envs.push(makeEnv(id, options));
  } catch (err) {
    for (const env of envs) env.close();
    throw err;
  }
  return new VectorEnv(envs);
}
