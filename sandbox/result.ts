import type { ZodType } from "zod";
import { failure, type WireResult } from "./protocol.ts";
import type { SandboxCallResult, SandboxFailure, SandboxResult } from "./types.ts";

/**
 * Keys dropped from every decoded value. `JSON.parse` makes them plain own properties, harmless by
 * themselves, but a later `Object.assign` or deep merge on the host would turn `__proto__` into a
 * prototype change and `constructor.prototype` into global prototype pollution.
 */
const DROPPED_KEYS = new Set(["__proto__", "constructor"]);

/** `JSON.parse` reviver that drops those keys. */
export function dropDangerousKeys(key: string, value: unknown): unknown {
  return DROPPED_KEYS.has(key) ? undefined : value;
}

/** Parses a call's `{"v": …}` text from the isolate into plain host data. */
export function decodeValue(
  json: string,
): { ok: true; value: unknown } | { ok: false; error: SandboxFailure } {
  try {
    const wrapper = JSON.parse(json, dropDangerousKeys) as { v?: unknown } | null;
    if (wrapper === null || typeof wrapper !== "object")
      return { ok: false, error: failure("result", "malformed result") };
    return { ok: true, value: wrapper.v };
  } catch (error) {
    return {
      ok: false,
      error: failure("result", `the result cannot be decoded: ${(error as Error).message}`),
    };
  }
}

function validate<T>(
  name: string,
  timeMs: number,
  value: unknown,
  schema: ZodType<T> | undefined,
): SandboxCallResult<T> {
  if (!schema) return { name, ok: true, value: value as T, timeMs };
  try {
    const parsed = schema.safeParse(value);
    if (parsed.success) return { name, ok: true, value: parsed.data, timeMs };
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? i.path.join(".") : "value"}: ${i.message}`)
      .join("; ");
    return {
      name,
      ok: false,
      error: failure("result", `the return value has the wrong shape (${issues})`),
      timeMs,
    };
  } catch (error) {
    // e.g. a structure nested deeply enough to exhaust the host's stack while validating
    return {
      name,
      ok: false,
      error: failure("result", `the return value cannot be checked: ${(error as Error).message}`),
      timeMs,
    };
  }
}

/** Turns a child's answer into the caller's result: values decoded and validated, one entry per call. */
export function decodeResult<T>(
  wire: WireResult,
  callNames: readonly string[],
  schema?: ZodType<T>,
): SandboxResult<T> {
  const calls: SandboxCallResult<T>[] = wire.calls.slice(0, callNames.length).map((call) => {
    if (!call.ok) return call;
    const decoded = decodeValue(call.valueJson);
    if (!decoded.ok) return { name: call.name, ok: false, error: decoded.error, timeMs: call.timeMs };
    return validate(call.name, call.timeMs, decoded.value, schema);
  });
  let status = wire.status;
  let error = wire.error;
  if (calls.length < callNames.length && !error) {
    status = "error";
    error = failure("crash", "the sandbox returned fewer results than calls");
  }
  const result: SandboxResult<T> = {
    status,
    calls: [...calls, ...notRun<T>(callNames.slice(calls.length), error)],
    console: wire.console,
    consoleTruncated: wire.consoleTruncated,
    cpuTimeMs: wire.cpuTimeMs,
    wallTimeMs: wire.wallTimeMs,
    memoryBytes: wire.memoryBytes,
  };
  if (error) result.error = error;
  return result;
}

/** The result of a job whose process died or hung: nothing is known but the reason. */
export function lostResult<T>(
  callNames: readonly string[],
  error: SandboxFailure,
  wallTimeMs: number,
): SandboxResult<T> {
  return {
    status: "error",
    error,
    calls: notRun<T>(callNames, error),
    console: "",
    consoleTruncated: false,
    cpuTimeMs: 0,
    wallTimeMs,
    memoryBytes: 0,
  };
}

function notRun<T>(names: readonly string[], cause: SandboxFailure | undefined): SandboxCallResult<T>[] {
  const error = cause ? failure(cause.kind, `not run: ${cause.message}`) : failure("crash", "not run");
  return names.map((name) => ({ name, ok: false, error, timeMs: 0 }));
}
