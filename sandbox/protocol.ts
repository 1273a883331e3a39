import type { CustomEnvSpec, EnvBatchStep, EnvSessionErrorKind, EnvSessionLimits } from "./env-types.ts";
import type { SandboxErrorKind, SandboxFailure, SandboxLimits } from "./types.ts";

/**
 * Messages between a `SupervisedChild` and its process, over the fork IPC channel: one request in
 * flight at a time, each answered once by a reply with its `id`. Every child says `ready` once it
 * can serve, and `fatal` before it exits on an isolated-vm catastrophic error.
 */
export type ChildNotice = { type: "ready" } | { type: "fatal"; message: string };

/**
 * The grading pool's jobs (`child.ts`, JSON). Return values travel as the JSON text the isolate
 * produced: the child never parses them, the pool parses and validates them once.
 */
export interface WireCall {
  name: string;
  fn: string;
  argsJson: string;
  /** The call's console output is dropped in the child: it never leaves it. */
  withholdConsole: boolean;
}

export interface WireJob {
  code: string;
  calls: WireCall[];
  limits: SandboxLimits;
  seed: number;
  now: number;
}

export type WireCallResult =
  | { name: string; ok: true; valueJson: string; timeMs: number }
  | { name: string; ok: false; error: SandboxFailure; timeMs: number };

export interface WireResult {
  status: "ok" | "error";
  error?: SandboxFailure;
  /** Only the calls that were attempted; the pool fills in the rest. */
  calls: WireCallResult[];
  console: string;
  consoleTruncated: boolean;
  cpuTimeMs: number;
  wallTimeMs: number;
  memoryBytes: number;
  /** False when an isolate could not be stopped: the pool replaces the child. */
  healthy: boolean;
}

export type ParentMessage = { type: "run"; id: number; job: WireJob };

export type ChildMessage = { type: "result"; id: number; result: WireResult };

/**
 * An env session's crossings (`env-child.ts`), with `serialization: "advanced"` (the V8
 * serializer), so that typed arrays travel as their bytes. A request that fails is answered by an
 * `error` with its `id`.
 */
export type EnvRequest =
  | {
      type: "open";
      id: number;
      code: string;
      numEnvs: number;
      limits: EnvSessionLimits;
      seed: number;
      now: number;
    }
  /** NaN where an env gets no seed (`undefined`). */
  | { type: "reset"; id: number; seeds: Float64Array }
  /** N × actDim values: integers for a discrete space, already clipped to the bounds for a box. */
  | { type: "step"; id: number; actions: Float64Array }
  | { type: "getStates"; id: number }
  | { type: "setStates"; id: number; statesJson: string; elapsed: Int32Array };

export interface EnvWireFailure {
  kind: EnvSessionErrorKind;
  message: string;
  /** Set when the session's overall CPU budget ran out. */
  budget?: "cpu";
}

/**
 * `console`: output captured during the request (absent when there was none); `cpuMs`: the isolate's
 * CPU time so far (every reply carries it).
 */
export type EnvReply =
  | { type: "opened"; id: number; spec: CustomEnvSpec; console?: string; cpuMs?: number }
  | { type: "reset"; id: number; observations: Float32Array<ArrayBuffer>; console?: string; cpuMs?: number }
  | ({ type: "step"; id: number; console?: string; cpuMs?: number } & EnvBatchStep)
  /** `states`: each env's `getState()` data, parsed in the child (keys `__proto__`/`constructor` dropped). */
  | {
      type: "states";
      id: number;
      states: unknown[];
      elapsed: Int32Array<ArrayBuffer>;
      console?: string;
      cpuMs?: number;
    }
  | { type: "statesSet"; id: number; console?: string; cpuMs?: number }
  | { type: "error"; id: number; error: EnvWireFailure; console?: string; cpuMs?: number };

export function failure(kind: SandboxErrorKind, message: string, stack?: string): SandboxFailure {
  return stack ? { kind, message, stack } : { kind, message };
}
