import type { SandboxErrorKind, SandboxFailure, SandboxLimits } from "./types.ts";

/**
 * Messages between the pool and its children (over the fork IPC channel, JSON). Return values
 * travel as the JSON text the isolate produced: the child never parses them, the pool parses and
 * validates them once.
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

export type ChildMessage =
  | { type: "ready" }
  | { type: "result"; id: number; result: WireResult }
  | { type: "fatal"; message: string };

export function failure(kind: SandboxErrorKind, message: string, stack?: string): SandboxFailure {
  return stack ? { kind, message, stack } : { kind, message };
}
