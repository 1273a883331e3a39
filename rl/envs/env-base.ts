/**
 * The machinery shared by the classic-control ports (and, through rl/envs/mujoco/mujoco-env.ts, the
 * MuJoCo envs): the episode life cycle of Gymnasium's
 * `OrderEnforcing` + `TimeLimit` wrappers folded into the env, action checking, the env's own seeded
 * RNG (Gymnasium's `np_random`), and an allocation-free step path for the vector env.
 *
 * Life cycle: `step` before the first `reset` throws (Gymnasium's `ResetNeeded`); `step` after
 * `terminated` or `truncated` throws until `reset` (Gymnasium only warns there and keeps stepping —
 * we make it an error so that a bug in a rollout loop cannot silently collect garbage).
 * Truncation is TimeLimit's rule: `truncated` is true on the step where the episode's step count
 * reaches `maxEpisodeSteps`, whether or not the same step also terminates.
 */

import { MAX_NUMPY_SEED, NumpyGenerator, type Pcg64State } from "../core/numpy-random.ts";
import type { RngState } from "../core/rng.ts";
import { actionDim, describeSpace } from "../core/spaces.ts";
import type {
  Action,
  BoxSpace,
  Env,
  Info,
  ResetOptions,
  ResetResult,
  Space,
  StepResult,
} from "../core/types.ts";
import { EnvError } from "./errors.ts";
import { F32, F64, type Kind, PY } from "./numpy-scalars.ts";

export type EpisodePhase = "needs-reset" | "running" | "finished" | "failed";

/** Everything needed to resume an env exactly: physical state, counters and RNG. JSON-safe. */
export interface EnvSnapshot {
  id: string;
  state: number[];
  elapsedSteps: number;
  phase: EpisodePhase;
  /**
   * Gymnasium's generator (PCG64). Snapshots written before the envs drew from it hold the old
   * xoshiro state (`RngState`); restoring one continues with a PCG64 seeded from those words (see
   * `restore`).
   */
  rng: Pcg64State | RngState;
  seeded: boolean;
  /** Env-specific extras (e.g. MountainCarContinuous's float32 state dtype). */
  extra: Record<string, unknown>;
}

export interface EnvSpec {
  id: string;
  maxEpisodeSteps: number;
  rewardThreshold: number | undefined;
}

export abstract class ClassicControlEnv implements Env {
  readonly id: string;
  readonly maxEpisodeSteps: number;
  readonly rewardThreshold: number | undefined;
  abstract readonly observationSpace: BoxSpace;
  abstract readonly actionSpace: Space;

  /** The env's own generator, Gymnasium's `self.np_random`, draw for draw (rl/core/numpy-random.ts). */
  protected readonly rng = new NumpyGenerator(0);
  /** Physical state, float64 as in Gymnasium (`self.state`). */
  protected readonly s: Float64Array;
  /** Set by `transition`: did this step reach a terminal state? */
  protected terminatedFlag = false;

  private seeded = false;
  private elapsed = 0;
  private phase: EpisodePhase = "needs-reset";
  private lastTruncated = false;
  private readonly scratchAction = new Float64Array(1);

  protected constructor(spec: EnvSpec, stateDim: number) {
    if (!Number.isInteger(spec.maxEpisodeSteps) || spec.maxEpisodeSteps <= 0) {
      throw new EnvError(
        "INVALID_OPTION",
        `maxEpisodeSteps must be a positive integer, got ${spec.maxEpisodeSteps}`,
        spec.id,
      );
    }
    this.id = spec.id;
    this.maxEpisodeSteps = spec.maxEpisodeSteps;
    this.rewardThreshold = spec.rewardThreshold;
    this.s = new Float64Array(stateDim);
  }

  /** Draws the initial state from `this.rng` into `this.s` (the body of Gymnasium's `reset`). */
  protected abstract resetState(): void;

  /**
   * Advances `this.s` by one step under the action at `action[offset]` (Discrete: the index;
   * Box: `actionDim` values of NumPy kind `kind`), sets `terminatedFlag`, and returns the reward.
   * The action has been checked already.
   */
  protected abstract transition(action: ArrayLike<number>, offset: number, kind: Kind): number;

  /** Writes the float32 observation of `this.s` at `out[offset..]` (Gymnasium's `_get_obs`). */
  protected abstract writeObservation(out: Float32Array, offset: number): void;

  /** Called after `state` is written from outside (for envs that track the state's dtype). */
  protected onStateWritten(): void {}

  /** The `info` of the last `step` (Gymnasium's; the classic-control envs return none). */
  protected stepInfo(): Info {
    return {};
  }

  /** The `info` of the last `reset` (Gymnasium's `_get_reset_info`). */
  protected resetInfo(): Info {
    return {};
  }

  /**
   * Frees what the env holds outside JavaScript's heap (a MuJoCo env's model and data); the env is
   * unusable afterwards. Nothing to free for the classic-control envs.
   */
  close(): void {}

  protected snapshotExtra(): Record<string, unknown> {
    return {};
  }

  protected restoreExtra(_extra: Record<string, unknown>): void {}

  get observationDim(): number {
    return this.observationSpace.low.length;
  }

  get actionDim(): number {
    return actionDim(this.actionSpace);
  }

  /** Steps taken in the current episode (TimeLimit's `_elapsed_steps`). */
  get elapsedSteps(): number {
    return this.elapsed;
  }

  get episodePhase(): EpisodePhase {
    return this.phase;
  }

  /**
   * The live physical state, like `env.unwrapped.state`: element writes take effect on the next step,
   * and `step` updates this same array in place (copy it with `.slice()` to keep a value).
   */
  get state(): Float64Array {
    return this.s;
  }

  set state(value: ArrayLike<number>) {
    if (value == null || typeof value !== "object" || typeof value.length !== "number") {
      throw new EnvError("INVALID_STATE", "state must be an array of numbers", this.id);
    }
    if (value.length !== this.s.length) {
      throw new EnvError(
        "INVALID_STATE",
        `state needs ${this.s.length} values, got ${value.length}`,
        this.id,
      );
    }
    for (let i = 0; i < value.length; i++) {
      if (typeof value[i] !== "number")
        throw new EnvError("INVALID_STATE", `state[${i}] is not a number`, this.id);
    }
    this.s.set(value);
    this.onStateWritten();
  }

  /** Writes the observation of the current state (no step, no checks) at `out[offset..]`. */
  observeInto(out: Float32Array, offset: number): void {
    this.writeObservation(out, offset);
  }

  reset(options?: ResetOptions): ResetResult {
    const observation = new Float32Array(this.observationDim);
    this.resetInto(observation, 0, options?.seed);
    return { observation, info: this.resetInfo() };
  }

  /** `reset` writing the observation into `out` at `offset` (the vector env's path). */
  resetInto(out: Float32Array, offset: number, seed?: number): void {
    if (seed !== undefined) {
      // NumPy's SeedSequence refuses negative seeds; larger than 2^53 cannot be a JavaScript integer.
      if (!Number.isSafeInteger(seed) || seed < 0) {
        throw new EnvError(
          "INVALID_OPTION",
          `seed must be an integer in [0, ${MAX_NUMPY_SEED}], got ${seed}`,
          this.id,
        );
      }
      this.rng.seed(seed);
      this.seeded = true;
    } else if (!this.seeded) {
      // Gymnasium seeds np_random from OS entropy when the first reset has no seed.
      const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
      this.rng.seed((hi & 0x1fffff) * 0x100000000 + lo);
      this.seeded = true;
    }
    this.resetState();
    this.elapsed = 0;
    this.phase = "running";
    this.lastTruncated = false;
    this.terminatedFlag = false;
    this.writeObservation(out, offset);
  }

  step(action: Action): StepResult {
    const observation = new Float32Array(this.observationDim);
    const reward = this.checkedStepInto(action, observation);
    const info = this.stepInfo();
    return { observation, reward, terminated: this.terminatedFlag, truncated: this.lastTruncated, info };
  }

  private checkedStepInto(action: Action, out: Float32Array): number {
    const space = this.actionSpace;
    if (space.kind === "discrete") {
      if (typeof action !== "number") {
        throw new EnvError(
          "INVALID_ACTION",
          `action must be an integer in [0, ${space.n}), got ${describe(action)}`,
          this.id,
        );
      }
      this.scratchAction[0] = action;
      return this.stepInto(this.scratchAction, 0, F64, out, 0);
    }
    if (!(action instanceof Float32Array || action instanceof Float64Array || Array.isArray(action))) {
      throw new EnvError(
        "INVALID_ACTION",
        `action must be a Float32Array or number[] of length ${space.low.length}, got ${describe(action)}`,
        this.id,
      );
    }
    if (action.length !== space.low.length) {
      throw new EnvError(
        "INVALID_ACTION",
        `action must have length ${space.low.length} for ${describeSpace(space)}, got length ${action.length}`,
        this.id,
      );
    }
    // The NumPy type the action would have in Gymnasium: a float32 array's elements are np.float32,
    // a list's are Python floats, a float64 array's np.float64.
    const kind: Kind = action instanceof Float32Array ? F32 : action instanceof Float64Array ? F64 : PY;
    return this.stepInto(action as ArrayLike<number>, 0, kind, out, 0);
  }

  /**
   * One step, allocation-free: checks the life cycle and the action, advances the state, writes the
   * observation at `out[outOffset..]` and returns the reward; `lastTerminated`/`lastTruncated` hold
   * the flags.
   */
  stepInto(
    action: ArrayLike<number>,
    offset: number,
    kind: Kind,
    out: Float32Array,
    outOffset: number,
  ): number {
    if (this.phase !== "running") this.throwPhase();
    this.checkAction(action, offset);
    this.terminatedFlag = false;
    const reward = this.transition(action, offset, kind);
    this.elapsed++;
    this.lastTruncated = this.elapsed >= this.maxEpisodeSteps;
    this.writeObservation(out, outOffset);
    const dim = this.observationDim;
    for (let i = 0; i < dim; i++) {
      if (Number.isNaN(out[outOffset + i])) {
        this.phase = "failed";
        throw new EnvError(
          "NAN_OBSERVATION",
          `step produced a NaN observation (state [${Array.from(this.s).join(", ")}]); reset() before stepping again`,
          this.id,
        );
      }
    }
    if (this.terminatedFlag || this.lastTruncated) this.phase = "finished";
    return reward;
  }

  get lastTerminated(): boolean {
    return this.terminatedFlag;
  }

  get lastTruncatedFlag(): boolean {
    return this.lastTruncated;
  }

  private checkAction(action: ArrayLike<number>, offset: number): void {
    const space = this.actionSpace;
    if (space.kind === "discrete") {
      const a = action[offset];
      if (!(Number.isInteger(a) && a >= 0 && a < space.n)) {
        throw new EnvError(
          "INVALID_ACTION",
          `action must be an integer in [0, ${space.n}), got ${a}`,
          this.id,
        );
      }
      return;
    }
    // Box actions outside [low, high] are accepted, as in Gymnasium, whose Pendulum and
    // MountainCarContinuous clip them inside `step` (MountainCarContinuous even charges its penalty
    // on the unclipped value). Non-finite values are not actions.
    const n = space.low.length;
    for (let i = 0; i < n; i++) {
      const v = action[offset + i];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new EnvError("INVALID_ACTION", `action[${i}] must be a finite number, got ${v}`, this.id);
      }
    }
  }

  private throwPhase(): never {
    if (this.phase === "needs-reset") {
      throw new EnvError("RESET_NEEDED", "call reset() before step()", this.id);
    }
    if (this.phase === "failed") {
      throw new EnvError(
        "RESET_NEEDED",
        "the last step failed (NaN observation); call reset() before step()",
        this.id,
      );
    }
    throw new EnvError(
      "EPISODE_FINISHED",
      "the episode has finished (terminated or truncated); call reset() before stepping again",
      this.id,
    );
  }

  snapshot(): EnvSnapshot {
    return {
      id: this.id,
      state: Array.from(this.s),
      elapsedSteps: this.elapsed,
      phase: this.phase,
      rng: this.rng.getState(),
      seeded: this.seeded,
      extra: this.snapshotExtra(),
    };
  }

  restore(snap: EnvSnapshot): void {
    if (snap.id !== this.id) throw new EnvError("INVALID_STATE", `snapshot is of ${snap.id}`, this.id);
    if (!Array.isArray(snap.state) || snap.state.length !== this.s.length) {
      throw new EnvError("INVALID_STATE", `snapshot state needs ${this.s.length} values`, this.id);
    }
    if (!Number.isInteger(snap.elapsedSteps) || snap.elapsedSteps < 0) {
      throw new EnvError("INVALID_STATE", `snapshot elapsedSteps must be a non-negative integer`, this.id);
    }
    if (!["needs-reset", "running", "finished", "failed"].includes(snap.phase)) {
      throw new EnvError("INVALID_STATE", `snapshot phase ${String(snap.phase)} is unknown`, this.id);
    }
    try {
      if ("s" in snap.rng) {
        // A pre-PCG64 snapshot: no PCG64 state corresponds to it, so its later resets cannot be the
        // ones the old generator would have drawn; continue deterministically from its words.
        const [a, b, c, d] = snap.rng.s;
        this.rng.seed((((b ^ d) >>> 0) & 0x1fffff) * 0x100000000 + ((a ^ c) >>> 0));
      } else {
        this.rng.setState(snap.rng);
      }
    } catch (err) {
      throw new EnvError("INVALID_STATE", `snapshot rng: ${(err as Error).message}`, this.id);
    }
    this.s.set(snap.state);
    this.elapsed = snap.elapsedSteps;
    this.phase = snap.phase;
    this.seeded = snap.seeded;
    this.lastTruncated = false;
    this.terminatedFlag = false;
    this.restoreExtra(snap.extra ?? {});
  }
}

function describe(x: unknown): string {
  if (typeof x === "number" || typeof x === "boolean" || x === null || x === undefined) return String(x);
  if (typeof x === "string") return JSON.stringify(x);
  if (ArrayBuffer.isView(x)) return x.constructor.name;
  if (Array.isArray(x)) return `array of length ${x.length}`;
  return typeof x;
}
