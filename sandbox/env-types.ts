/** Limits of an env session. Each crossing (open, reset, one batched step, getStates, setStates) has its own. */
export interface EnvSessionLimits {
  /** isolated-vm `memoryLimit` of the session's isolate (heap + ArrayBuffers), in MiB (at least 8). */
  memoryMb: number;
  /** CPU time of one crossing, all of its envs together, enforced by isolated-vm's `timeout`. */
  callCpuMs: number;
  /**
   * Wall-clock deadline of one crossing, enforced by the host: a child that has not answered within
   * it (plus a grace for the process to be scheduled) is killed. It catches what the CPU limit cannot
   * stop, e.g. a huge `Array#fill`, which does not check for termination.
   */
  callWallMs: number;
  /** Console output kept over the whole session, in UTF-8 bytes; the rest is dropped with a marker. */
  maxConsoleBytes: number;
}

/** A Box space as plain JSON (it is stored in PostgreSQL): `null` is unbounded, −∞ in `low`, +∞ in `high`. */
export interface JsonBox {
  kind: "box";
  shape: number[];
  low: (number | null)[];
  high: (number | null)[];
}

export interface JsonDiscrete {
  kind: "discrete";
  n: number;
}

/** What the submitted env declares, checked on the host. */
export interface CustomEnvSpec {
  observationSpace: JsonBox;
  actionSpace: JsonDiscrete | JsonBox;
  /** The time limit (Gymnasium's TimeLimit `max_episode_steps`). */
  maxEpisodeSteps: number;
  /** `getState` and `setState` are both functions: `getStates`/`setStates` can resume a run exactly. */
  stateful: boolean;
}

/** One batched step of N envs; fresh arrays on every call. */
export interface EnvBatchStep {
  /** N × obsDim, after autoreset: row i is the new episode's first observation where env i finished. */
  observations: Float32Array<ArrayBuffer>;
  rewards: Float64Array<ArrayBuffer>;
  terminated: Uint8Array<ArrayBuffer>;
  /** Set by the env, or by the time limit on the step where the episode length reaches maxEpisodeSteps. */
  truncated: Uint8Array<ArrayBuffer>;
  /** N × obsDim: the last observation of the episode env i finished on this step (zeros elsewhere). */
  finalObservations: Float32Array<ArrayBuffer>;
  hasFinal: Uint8Array<ArrayBuffer>;
}

/** Saved state of one env instance: its own `getState()` data and the steps of its current episode. */
export interface EnvInstanceState {
  env: unknown;
  elapsed: number;
}

/**
 * - `syntax`: the script does not compile;
 * - `runtime`: something threw (the top level, `createEnv`, or an env method), or `createEnv` is missing;
 * - `timeout`: a crossing went past its CPU limit or its wall-clock deadline;
 * - `memory`: the isolate reached its memory limit;
 * - `result`: something returned a value of the wrong shape (spaces, observations, rewards, flags, states);
 * - `crash`: the session's process died or could not start.
 */
export type EnvSessionErrorKind = "syntax" | "runtime" | "timeout" | "memory" | "result" | "crash";

export const DEFAULT_ENV_SESSION_LIMITS: EnvSessionLimits = {
  memoryMb: 64,
  callCpuMs: 1000,
  callWallMs: 5000,
  maxConsoleBytes: 64 * 1024,
};

/** Instances per session: a rollout worker's vector env, not a cluster's. */
export const MAX_NUM_ENVS = 1024;
/** Values in a Box space's `low` (and `high`). */
export const MAX_BOX_SIZE = 10_000;
export const MAX_EPISODE_STEPS = 100_000;
/** The JSON of all instances' states together, either way. */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;
