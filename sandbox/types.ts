import type { ZodType } from "zod";

/** Limits of one job. Every job runs in a fresh isolate, so they never carry over between jobs. */
export interface SandboxLimits {
  /** isolated-vm `memoryLimit`: the isolate's heap plus its ArrayBuffers, in MiB (at least 8). */
  memoryMb: number;
  /**
   * Execution time of the top-level script and of each call, enforced by isolated-vm's `timeout`
   * (time spent running on the isolate's thread, microtasks included).
   */
  cpuTimeMs: number;
  /** Deadline of the whole job (isolate creation, compilation, every call, awaited promises). */
  wallTimeMs: number;
  /** Captured console output kept, in UTF-8 bytes; the rest is dropped and `consoleTruncated` set. */
  maxConsoleBytes: number;
  /** Size of one call's JSON-encoded return value, in bytes. */
  maxResultBytes: number;
}

export interface SandboxCall {
  /** Label reported back with the result, e.g. the hidden test's name. */
  name: string;
  /** Function to call; defaults to the job's `entry`. */
  fn?: string;
  /** Arguments, JSON-encoded on the host and decoded inside the isolate (copies, never references). */
  args?: readonly unknown[];
  /**
   * Drop what the call writes to `console` (a hidden test: its output would show its inputs). The
   * output is discarded in the child process, so it never reaches the caller; it still counts
   * towards `maxConsoleBytes` inside the isolate, so give such calls after those whose output is kept.
   */
  withholdConsole?: boolean;
}

export interface SandboxJob<T = unknown> {
  /** A classic script (no `import`/`export`/`require`) declaring the functions that `calls` name. */
  code: string;
  /** The function called when a call names none. */
  entry?: string;
  /** Called in order, in the same isolate, after the script's top level has run. */
  calls: readonly SandboxCall[];
  limits?: Partial<SandboxLimits>;
  /** Seed of `Math.random` inside the isolate (default 0): the same job gives the same numbers. */
  seed?: number;
  /** What `Date.now()` and `new Date()` return inside the isolate, in ms since the epoch. */
  now?: number;
  /** Every successful call's value is validated against it on the host; a mismatch fails the call. */
  schema?: ZodType<T>;
}

/**
 * - `syntax`: the script does not compile;
 * - `runtime`: something threw (top level, a call, or the named function does not exist);
 * - `timeout`: the CPU limit or the wall-clock deadline was reached;
 * - `memory`: the isolate's memory limit was reached (the isolate is gone, later calls are not run);
 * - `result`: a return value is not JSON data, too large, or does not match the schema;
 * - `crash`: the process running the job died or stopped answering (it was replaced).
 */
export type SandboxErrorKind = "syntax" | "runtime" | "timeout" | "memory" | "result" | "crash";

export interface SandboxFailure {
  kind: SandboxErrorKind;
  message: string;
  /** Stack frames inside the submitted code (`submission.js:line:column`), when there are some. */
  stack?: string;
}

export type SandboxCallResult<T = unknown> =
  | { name: string; ok: true; value: T; timeMs: number }
  | { name: string; ok: false; error: SandboxFailure; timeMs: number };

export interface SandboxResult<T = unknown> {
  /** `ok` when the script loaded and every call was attempted; call failures are in `calls`. */
  status: "ok" | "error";
  /** Why the job as a whole failed; the calls it did not reach carry the same failure. */
  error?: SandboxFailure;
  /** One entry per requested call, in order, always as many as were requested. */
  calls: SandboxCallResult<T>[];
  console: string;
  consoleTruncated: boolean;
  /** CPU time the isolate used (isolated-vm `cpuTime`). */
  cpuTimeMs: number;
  /** From the job's start in the child to its end, as measured by the child. */
  wallTimeMs: number;
  /** Heap size plus external (ArrayBuffer) memory of the isolate at the end of the job. */
  memoryBytes: number;
}
