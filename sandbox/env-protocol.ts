import type { CustomEnvSpec, EnvBatchStep, EnvSessionErrorKind, EnvSessionLimits } from "./env-types.ts";

/**
 * Messages between an `EnvSession` and its child (`env-child.ts`), over the fork IPC channel with
 * `serialization: "advanced"` (the V8 serializer), so that typed arrays travel as their bytes. One
 * request is in flight at a time; every request is answered once, by a reply with its `id` or by
 * an `error`.
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
 * CPU time so far (every reply but `ready` and `fatal` carries it).
 */
export type EnvReply =
  | { type: "ready" }
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
  | { type: "error"; id: number; error: EnvWireFailure; console?: string; cpuMs?: number }
  /** Sent before the child exits on an isolated-vm catastrophic error. */
  | { type: "fatal"; message: string };
