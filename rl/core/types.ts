/**
 * The environment contract of `rl/`, modelled on Gymnasium 1.x's `Env` API
 * (https://gymnasium.farama.org/api/env/): `reset` returns (observation, info), `step` returns
 * (observation, reward, terminated, truncated, info). Observations are Float32Array (Gymnasium
 * returns float32 observations while it keeps the physical state in float64).
 */

/** A finite set of actions {0, 1, ..., n-1}. */
export interface DiscreteSpace {
  readonly kind: "discrete";
  readonly n: number;
}

/** A box in R^shape with per-dimension bounds (may be ±Infinity). */
export interface BoxSpace {
  readonly kind: "box";
  readonly shape: readonly number[];
  readonly low: Float32Array;
  readonly high: Float32Array;
}

export type Space = DiscreteSpace | BoxSpace;

/**
 * A space as JSON, for what is stored or sent (an environment defined by code declares its spaces
 * this way): Box bounds as numbers, null where a bound is infinite (JSON has no Infinity).
 */
export type JsonSpace =
  | { kind: "discrete"; n: number }
  | { kind: "box"; shape: number[]; low: (number | null)[]; high: (number | null)[] };

/** What a policy network is built for: the spaces of one sub-environment. */
export interface EnvSpaces {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: Space;
}

/** An action: an integer index for Discrete spaces, a vector for Box spaces. */
export type Action = number | Float32Array | Float64Array | readonly number[];

export type Info = Record<string, unknown>;

export interface ResetResult {
  observation: Float32Array;
  info: Info;
}

export interface StepResult {
  observation: Float32Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: Info;
}

export interface ResetOptions {
  seed?: number;
}

export interface Env {
  readonly id: string;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: Space;
  /** Registered episode limit (Gymnasium's TimeLimit `max_episode_steps`). */
  readonly maxEpisodeSteps: number;
  /** Gymnasium's `reward_threshold` for the registered id. */
  readonly rewardThreshold: number | undefined;
  /** Physical state, readable and writable like Gymnasium's `env.unwrapped.state` (float64). */
  state: Float64Array;
  reset(options?: ResetOptions): ResetResult;
  step(action: Action): StepResult;
}
