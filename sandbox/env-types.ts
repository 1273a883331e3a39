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
  /**
   * Resident memory of the session's whole process (Node, isolated-vm, the isolate, the replies), in
   * MiB, checked by the child after every crossing (and its own V8 heap bounded by
   * `--max-old-space-size`): past it the session fails with `memory`. `memoryMb` bounds the isolate
   * alone, and isolated-vm documents that limit as approximate.
   */
  processMemoryMb: number;
  /**
   * CPU time of the whole session, all crossings together, in ms (default: none). Each crossing then
   * gets at most what is left of it; past it the session fails with `timeout` (`budget: "cpu"`).
   */
  totalCpuMs?: number;
  /**
   * Wall-clock time of the whole session from `open()`, in ms (default: none), kept by the host: past
   * it the session's process is killed and the session fails with `timeout` (`budget: "wall"`).
   */
  totalWallMs?: number;
}

/**
 * What an env may declare, beyond the contract's structural limits (MAX_BOX_SIZE): the learner's
 * networks and rollout buffers grow with these sizes on the platform's own processes (a discrete
 * space of n actions is an output layer of n logits per hidden unit, its Adam moments and gradients).
 */
export interface CustomEnvCaps {
  /** Largest `n` of a discrete action space. */
  maxDiscreteActions: number;
  /** Largest observation vector (values in the observation box). */
  maxObservationSize: number;
  /** Largest action vector of a box action space. */
  maxActionSize: number;
}

/**
 * Defaults far above the envs Proxima ships (MuJoCo Humanoid: 376 observations, 17 actions) and far
 * below what hurt: `n: 1000000` took a controller from 217 MB to 3.2 GB (issue 15, finding 3).
 */
export const DEFAULT_CUSTOM_ENV_CAPS: CustomEnvCaps = {
  maxDiscreteActions: 1024,
  maxObservationSize: 1024,
  maxActionSize: 64,
};

/** The setting that sets each cap, named in refusals so that the learner and ops know which. */
export const CUSTOM_ENV_CAP_SETTINGS: Record<keyof CustomEnvCaps, string> = {
  maxDiscreteActions: "CODE_ENV_MAX_DISCRETE_ACTIONS",
  maxObservationSize: "CODE_ENV_MAX_OBSERVATION_SIZE",
  maxActionSize: "CODE_ENV_MAX_ACTION_SIZE",
};

/** A declared size above a cap: which cap, its value, and what the env declares. */
export interface CapViolation {
  cap: keyof CustomEnvCaps;
  setting: string;
  limit: number;
  value: number;
  /** "declares 1000000 discrete actions; at most 1024 are allowed (CODE_ENV_MAX_DISCRETE_ACTIONS)" */
  message: string;
}

/** The first cap that `spec` exceeds, or null. Checked when an env is graded and when a run starts. */
export function capViolation(spec: CustomEnvSpec, caps: CustomEnvCaps): CapViolation | null {
  const action = spec.actionSpace;
  const checks: [keyof CustomEnvCaps, number, string][] = [
    ["maxObservationSize", spec.observationSpace.low.length, "observation values"],
    action.kind === "discrete"
      ? ["maxDiscreteActions", action.n, "discrete actions"]
      : ["maxActionSize", action.low.length, "action values"],
  ];
  for (const [cap, value, what] of checks) {
    const limit = caps[cap];
    if (value > limit) {
      const setting = CUSTOM_ENV_CAP_SETTINGS[cap];
      return {
        cap,
        setting,
        limit,
        value,
        message: `declares ${value} ${what}; at most ${limit} are allowed (${setting})`,
      };
    }
  }
  return null;
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
  processMemoryMb: 512,
};

/** Instances per session: a rollout worker's vector env, not a cluster's. */
export const MAX_NUM_ENVS = 1024;
/** Values in a Box space's `low` (and `high`). */
export const MAX_BOX_SIZE = 10_000;
export const MAX_EPISODE_STEPS = 100_000;
/** The JSON of all instances' states together, either way. */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;
