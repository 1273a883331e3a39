import type { ExecutionContext } from "ava";
import type {
  SandboxFailure,
  SandboxLimits,
  SandboxPool,
  SandboxPoolOptions,
  SandboxResult,
} from "../../sandbox/index.ts";

/**
 * Small memory and output caps. The default time limits are roomy because isolated-vm's `timeout`
 * counts time on the isolate's thread, which a busy two-core machine stretches; the tests that
 * expect a timeout ask for `TIGHT` limits.
 */
export const TEST_POOL_OPTIONS: SandboxPoolOptions = {
  size: 2,
  limits: {
    memoryMb: 32,
    cpuTimeMs: 3000,
    wallTimeMs: 6000,
    maxConsoleBytes: 4096,
    maxResultBytes: 64 * 1024,
  },
  graceMs: 1000,
};

export const TIGHT: Partial<SandboxLimits> = { cpuTimeMs: 200, wallTimeMs: 1500 };

/** Runs `code` with one call of `f`. */
export function runF(
  pool: SandboxPool,
  code: string,
  options: { args?: unknown[]; limits?: Partial<SandboxLimits> } = {},
): Promise<SandboxResult> {
  return pool.run({
    code,
    entry: "f",
    calls: [{ name: "f", args: options.args ?? [] }],
    limits: options.limits,
  });
}

/** The failure of the single call, whether the job failed as a whole or only the call did. */
export function callFailure(t: ExecutionContext, result: SandboxResult): SandboxFailure {
  const call = result.calls[0];
  if (call.ok) return t.fail(`expected a failure, got ${JSON.stringify(call.value)}`) as never;
  return call.error;
}

/** The pool answers a normal job correctly after whatever came before. */
export async function assertStillServes(t: ExecutionContext, pool: SandboxPool): Promise<void> {
  const result = await pool.run({
    code: "function add(a, b) { return a + b; }",
    entry: "add",
    calls: [{ name: "sum", args: [20, 22] }],
  });
  t.is(result.status, "ok");
  t.deepEqual(result.calls[0], { name: "sum", ok: true, value: 42, timeMs: result.calls[0].timeMs });
}
