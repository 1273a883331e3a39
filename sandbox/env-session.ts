/**
 * Environment sessions: a learner's environment (a script declaring `createEnv()`) runs in ONE
 * dedicated child process holding ONE isolate, where the script runs once and N env instances live.
 * The host drives them with batched calls, one IPC crossing per vector step for all N, with the
 * autoreset (Gymnasium's same-step mode) and the time limit done inside that crossing. See
 * sandbox/README.md for the code contract.
 *
 * A session that fails once (a throw, a bad result, a timeout, the memory limit, a dead process)
 * is broken for good: its process is killed and every later call rejects with the same
 * `EnvSessionError`. A caller's own mistakes (a wrong action array, a step before reset, two calls
 * at once) reject with a TypeError/RangeError/Error and leave the session as it was.
 */
import {
  type CustomEnvCaps,
  type CustomEnvSpec,
  capViolation,
  DEFAULT_ENV_SESSION_LIMITS,
  type EnvBatchStep,
  type EnvInstanceState,
  type EnvSessionErrorKind,
  type EnvSessionLimits,
  MAX_NUM_ENVS,
  MAX_STATE_BYTES,
} from "./env-types.ts";
import { DEFAULT_NOW } from "./job.ts";
import type { EnvReply, EnvRequest } from "./protocol.ts";
import { type ChildExit, SupervisedChild, type WithoutId } from "./supervised-child.ts";

export type {
  CapViolation,
  CustomEnvCaps,
  CustomEnvSpec,
  EnvBatchStep,
  EnvInstanceState,
  EnvSessionErrorKind,
  EnvSessionLimits,
  JsonBox,
  JsonDiscrete,
} from "./env-types.ts";
export {
  CUSTOM_ENV_CAP_SETTINGS,
  capViolation,
  DEFAULT_CUSTOM_ENV_CAPS,
  DEFAULT_ENV_SESSION_LIMITS,
} from "./env-types.ts";

/** Time past a crossing's wall-clock deadline for the child to be scheduled and answer. */
const GRACE_MS = 1000;
/** Time a new child has to load tsx and isolated-vm and say it is ready. */
const START_TIMEOUT_MS = 30_000;

/** Why a session failed; `message` names what failed, e.g. "step() of env 3 threw TypeError: … (submission.js:12:5)". */
export class EnvSessionError extends Error {
  readonly kind: EnvSessionErrorKind;
  /** Set (kind `timeout`) when what ran out is the session's overall budget, not one crossing's limit. */
  readonly budget: "cpu" | "wall" | undefined;
  constructor(kind: EnvSessionErrorKind, message: string, budget?: "cpu" | "wall") {
    super(message);
    this.name = "EnvSessionError";
    this.kind = kind;
    this.budget = budget;
  }
}

export interface EnvSessionOptions {
  limits?: Partial<EnvSessionLimits>;
  /** Seed of `Math.random` inside the isolate (default 0); shared by all instances. */
  seed?: number;
  /**
   * Sizes the env may declare (the platform's settings); an env above one fails `open()` with a
   * `result` error naming the cap. Default: only the contract's structural limits (a local run).
   */
  caps?: CustomEnvCaps;
  /** What `Date.now()` and `new Date()` return inside the isolate (default 2024-01-01T00:00:00Z). */
  now?: number;
}

type Reply<T extends EnvReply["type"]> = Extract<EnvReply, { type: T }>;

type RequiredLimit = Exclude<keyof EnvSessionLimits, "totalCpuMs" | "totalWallMs">;

const LIMIT_RANGES: Record<RequiredLimit, [number, number]> = {
  // isolated-vm refuses memory limits below 8 MiB.
  memoryMb: [8, 8192],
  callCpuMs: [1, 600_000],
  callWallMs: [1, 3_600_000],
  maxConsoleBytes: [0, 64 * 1024 * 1024],
  // Node, tsx and isolated-vm alone take ~100 MiB of resident memory before any isolate.
  processMemoryMb: [128, 65_536],
};

/** The overall budgets are optional: absent, a session has none. */
const BUDGET_RANGES: Record<"totalCpuMs" | "totalWallMs", [number, number]> = {
  totalCpuMs: [1, 86_400_000],
  totalWallMs: [1, 86_400_000],
};

function checkLimits(limits: EnvSessionLimits): void {
  const ranges = Object.entries({ ...LIMIT_RANGES, ...BUDGET_RANGES }) as [
    keyof EnvSessionLimits,
    [number, number],
  ][];
  for (const [key, [min, max]] of ranges) {
    const v = limits[key];
    if (v === undefined && key in BUDGET_RANGES) continue;
    if (v === undefined || !Number.isInteger(v) || v < min || v > max)
      throw new RangeError(`EnvSession limits.${key} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

/** Why the session's process exited when nothing had failed it. */
function exitFailure({ code, signal, fatal, during }: ChildExit): EnvSessionError {
  if (fatal)
    return new EnvSessionError(
      /memory/i.test(fatal) ? "memory" : "crash",
      `the session's process hit a fatal isolate error (${fatal})`,
    );
  return new EnvSessionError(
    "crash",
    `the session's process exited (${signal ?? `code ${code}`})${during ? " during a call" : ""}`,
  );
}

/**
 * The session's process: a supervised child (one request in flight at a time, each with its own
 * wall-clock deadline, the first failure kept as the answer to everything after it), the output it
 * captured and its CPU time.
 */
class SessionProcess extends SupervisedChild<EnvRequest, EnvReply, EnvSessionError> {
  consoleText = "";
  /** The isolate's CPU time as of the last reply, in ms. */
  cpuMs = 0;

  constructor(heapMb: number) {
    super({
      entry: "env-child",
      serialization: "advanced",
      heapMb,
      unref: true,
      name: "the env session",
      exitFailure,
      unreachable: (error) =>
        new EnvSessionError("crash", `the session's process cannot be reached (${error.message})`),
    });
  }

  /** Sends a request and resolves with its reply, of the type expected. */
  async call<T extends EnvReply["type"]>(
    request: WithoutId<EnvRequest>,
    expect: T,
    what: string,
    wallMs: number,
  ): Promise<Reply<T>> {
    const late = () =>
      new EnvSessionError(
        "timeout",
        `${what} did not answer within its wall-clock deadline of ${wallMs} ms; the session's process was killed`,
      );
    const reply = await this.request(request, wallMs + GRACE_MS, late);
    // The child caps the session's output; the length check only guards against a defect there.
    if (typeof reply.console === "string" && this.consoleText.length < 64 * 1024 * 1024)
      this.consoleText += reply.console;
    if (typeof reply.cpuMs === "number") this.cpuMs = reply.cpuMs;
    if (reply.type === "error")
      throw this.fail(
        new EnvSessionError(
          reply.error.kind,
          reply.error.message,
          reply.error.budget === "cpu" ? "cpu" : undefined,
        ),
      );
    if (reply.type !== expect)
      throw this.fail(
        new EnvSessionError("crash", `the session's process answered ${reply.type} to a ${expect} request`),
      );
    return reply as Reply<T>;
  }
}

/** Action values that reach the env: integers in [0, n) for a discrete space, the box clipped to its bounds. */
function packActions(
  actions: Int32Array | Float32Array,
  spec: CustomEnvSpec,
  numEnvs: number,
  actDim: number,
  low: Float64Array,
  high: Float64Array,
): Float64Array {
  const space = spec.actionSpace;
  const expected = numEnvs * actDim;
  if (space.kind === "discrete") {
    if (!(actions instanceof Int32Array))
      throw new TypeError(`actions for a discrete space must be an Int32Array of ${numEnvs} values`);
  } else if (!(actions instanceof Float32Array)) {
    throw new TypeError(`actions for a box space must be a Float32Array of ${numEnvs} × ${actDim} values`);
  }
  if (actions.length !== expected)
    throw new RangeError(
      `actions must have ${expected} values (${numEnvs} envs × ${actDim}), got ${actions.length}`,
    );
  const packed = new Float64Array(expected);
  if (space.kind === "discrete") {
    for (let i = 0; i < expected; i++) {
      const a = actions[i];
      if (a < 0 || a >= space.n)
        throw new RangeError(`action ${i} is ${a}, not an integer in [0, ${space.n})`);
      packed[i] = a;
    }
    return packed;
  }
  // CleanRL's ClipAction: the policy's Gaussian samples are unbounded, the env's contract is not.
  for (let i = 0; i < expected; i++) {
    const a = actions[i];
    if (!Number.isFinite(a)) throw new RangeError(`action value ${i} is ${a}, not a finite number`);
    const d = i % actDim;
    packed[i] = Math.min(Math.max(a, low[d]), high[d]);
  }
  return packed;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export class EnvSession {
  readonly spec: CustomEnvSpec;
  readonly numEnvs: number;
  readonly obsDim: number;
  /** 1 for a discrete action space, the box's length otherwise. */
  readonly actDim: number;
  private readonly process: SessionProcess;
  private readonly limits: EnvSessionLimits;
  private readonly actionLow: Float64Array;
  private readonly actionHigh: Float64Array;
  private started = false;
  private closeRequested = false;

  private constructor(
    process: SessionProcess,
    spec: CustomEnvSpec,
    numEnvs: number,
    limits: EnvSessionLimits,
  ) {
    this.process = process;
    this.spec = deepFreeze(spec);
    this.numEnvs = numEnvs;
    this.limits = limits;
    this.obsDim = spec.observationSpace.low.length;
    const space = spec.actionSpace;
    this.actDim = space.kind === "discrete" ? 1 : space.low.length;
    this.actionLow = Float64Array.from(
      space.kind === "box" ? space.low : [],
      (v) => v ?? Number.NEGATIVE_INFINITY,
    );
    this.actionHigh = Float64Array.from(
      space.kind === "box" ? space.high : [],
      (v) => v ?? Number.POSITIVE_INFINITY,
    );
  }

  /**
   * Starts the session's process, runs the script and `createEnv()` `numEnvs` times, and checks what
   * the instances declare. Rejects with `EnvSessionError` (syntax, runtime, result, timeout, memory,
   * crash) after the process has exited.
   */
  static async open(code: string, numEnvs: number, options: EnvSessionOptions = {}): Promise<EnvSession> {
    if (typeof code !== "string") throw new TypeError("EnvSession code must be a string");
    if (!Number.isInteger(numEnvs) || numEnvs < 1 || numEnvs > MAX_NUM_ENVS)
      throw new RangeError(`EnvSession numEnvs must be an integer in [1, ${MAX_NUM_ENVS}], got ${numEnvs}`);
    const limits = { ...DEFAULT_ENV_SESSION_LIMITS, ...options.limits };
    checkLimits(limits);
    const seed = options.seed ?? 0;
    const now = options.now ?? DEFAULT_NOW;
    if (!Number.isInteger(seed)) throw new RangeError(`EnvSession seed must be an integer, got ${seed}`);
    if (!Number.isFinite(now)) throw new RangeError(`EnvSession now must be a finite number, got ${now}`);

    const process = new SessionProcess(limits.processMemoryMb);
    const budget = limits.totalWallMs;
    if (budget !== undefined)
      process.failAfter(
        budget,
        () =>
          new EnvSessionError(
            "timeout",
            `the session ran past its overall wall-clock budget of ${budget} ms; its process was killed`,
            "wall",
          ),
      );
    try {
      await process.ready(
        START_TIMEOUT_MS,
        () =>
          new EnvSessionError("crash", `the session's process did not start within ${START_TIMEOUT_MS} ms`),
      );
      const reply = await process.call(
        { type: "open", code, numEnvs, limits, seed, now },
        "opened",
        "open()",
        limits.callWallMs,
      );
      const violation = options.caps ? capViolation(reply.spec, options.caps) : null;
      if (violation)
        throw new EnvSessionError("result", `createEnv() returned an env that ${violation.message}`);
      return new EnvSession(process, reply.spec, numEnvs, limits);
    } catch (error) {
      await process.stop(0, error as Error);
      throw error;
    }
  }

  /** True once `close()` was called or the session broke (its process is then gone or going). */
  get closed(): boolean {
    return this.closeRequested || this.process.failure !== undefined;
  }

  /** CPU time the session's isolate has used, as of its last answer, in ms (`totalCpuMs` counts it). */
  get cpuTimeMs(): number {
    return this.process.cpuMs;
  }

  /** The session's process id (for monitoring; the process is killed on `close()` and on failure). */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /**
   * Resets every env: env i gets `seeds[i]` (an integer, or undefined to continue its own random
   * stream). Resolves with the N × obsDim first observations.
   */
  async reset(seeds: readonly (number | undefined)[]): Promise<Float32Array<ArrayBuffer>> {
    this.usable();
    if (!Array.isArray(seeds) || seeds.length !== this.numEnvs)
      throw new RangeError(`reset() needs one seed (or undefined) per env: ${this.numEnvs} values`);
    const packed = new Float64Array(this.numEnvs);
    for (let i = 0; i < this.numEnvs; i++) {
      const seed = seeds[i];
      if (seed !== undefined && !Number.isSafeInteger(seed))
        throw new RangeError(`seed ${i} must be a safe integer or undefined, got ${seed}`);
      packed[i] = seed ?? Number.NaN;
    }
    const reply = await this.process.call(
      { type: "reset", seeds: packed },
      "reset",
      "reset()",
      this.limits.callWallMs,
    );
    const { observations } = reply;
    if (!(observations instanceof Float32Array) || observations.length !== this.numEnvs * this.obsDim)
      this.malformed("reset");
    this.started = true;
    return observations;
  }

  /**
   * Steps every env once, in one crossing: `actions` is an Int32Array of N indices (discrete) or a
   * Float32Array of N × actDim values (box, clipped to the bounds). Envs that finish are reset
   * inside the same crossing (with no seed).
   */
  async step(actions: Int32Array | Float32Array): Promise<EnvBatchStep> {
    this.usable();
    if (!this.started) throw new Error("call reset() (or setStates()) before step()");
    const packed = packActions(
      actions,
      this.spec,
      this.numEnvs,
      this.actDim,
      this.actionLow,
      this.actionHigh,
    );
    const reply = await this.process.call(
      { type: "step", actions: packed },
      "step",
      "step()",
      this.limits.callWallMs,
    );
    const n = this.numEnvs;
    const size = n * this.obsDim;
    const { observations, rewards, terminated, truncated, finalObservations, hasFinal } = reply;
    if (
      !(observations instanceof Float32Array && observations.length === size) ||
      !(finalObservations instanceof Float32Array && finalObservations.length === size) ||
      !(rewards instanceof Float64Array && rewards.length === n) ||
      !(terminated instanceof Uint8Array && terminated.length === n) ||
      !(truncated instanceof Uint8Array && truncated.length === n) ||
      !(hasFinal instanceof Uint8Array && hasFinal.length === n)
    )
      this.malformed("step");
    return { observations, rewards, terminated, truncated, finalObservations, hasFinal };
  }

  /** Each env's `getState()` data and the steps of its current episode (only when `spec.stateful`). */
  async getStates(): Promise<EnvInstanceState[]> {
    this.usable();
    if (!this.spec.stateful) throw new Error("this env declares no getState()/setState()");
    if (!this.started) throw new Error("call reset() before getStates()");
    const reply = await this.process.call(
      { type: "getStates" },
      "states",
      "getStates()",
      this.limits.callWallMs,
    );
    const { states, elapsed } = reply;
    if (!Array.isArray(states) || states.length !== this.numEnvs || !(elapsed instanceof Int32Array))
      this.malformed("getStates");
    return states.map((env, i) => ({ env, elapsed: elapsed[i] }));
  }

  /** Puts every env back into a state from `getStates()`; the next step continues from there. */
  async setStates(states: readonly EnvInstanceState[]): Promise<void> {
    this.usable();
    if (!this.spec.stateful) throw new Error("this env declares no getState()/setState()");
    if (!Array.isArray(states) || states.length !== this.numEnvs)
      throw new RangeError(`setStates() needs one state per env: ${this.numEnvs} values`);
    const elapsed = new Int32Array(this.numEnvs);
    const envs: unknown[] = [];
    const max = this.spec.maxEpisodeSteps;
    for (let i = 0; i < this.numEnvs; i++) {
      const state = states[i];
      const e = state?.elapsed;
      if (!Number.isInteger(e) || e < 0 || e >= max)
        throw new RangeError(`state ${i}: elapsed must be an integer in [0, ${max}), got ${e}`);
      if (state.env === undefined) throw new TypeError(`state ${i}: env is undefined, not JSON data`);
      elapsed[i] = e;
      envs.push(state.env);
    }
    let statesJson: string;
    try {
      statesJson = JSON.stringify(envs);
    } catch (error) {
      throw new TypeError(`the states are not JSON data: ${(error as Error).message}`);
    }
    if (statesJson.length > MAX_STATE_BYTES)
      throw new RangeError(`the states take more than ${MAX_STATE_BYTES} bytes as JSON`);
    await this.process.call(
      { type: "setStates", statesJson, elapsed },
      "statesSet",
      "setStates()",
      this.limits.callWallMs,
    );
    this.started = true;
  }

  /** Console output captured since the last drain (at most `maxConsoleBytes` over the session). */
  drainConsole(): string {
    const text = this.process.consoleText;
    this.process.consoleText = "";
    return text;
  }

  /** Ends the session's process and resolves once it has exited; idempotent. */
  async close(): Promise<void> {
    this.closeRequested = true;
    await this.process.stop(0, new Error("the env session was closed during the call"));
  }

  private usable(): void {
    if (this.process.failure) throw this.process.failure;
    if (this.closeRequested) throw new Error("the env session is closed");
  }

  private malformed(what: string): never {
    throw this.process.fail(
      new EnvSessionError("crash", `the session's process sent a malformed ${what} reply`),
    );
  }
}
