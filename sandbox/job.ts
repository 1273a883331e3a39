import { z } from "zod";
import { SandboxInvalidJobError } from "./errors.ts";
import { isCallableName } from "./prelude.ts";
import type { WireJob } from "./protocol.ts";
import type { SandboxJob, SandboxLimits } from "./types.ts";

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryMb: 64,
  cpuTimeMs: 1000,
  wallTimeMs: 5000,
  maxConsoleBytes: 64 * 1024,
  maxResultBytes: 1024 * 1024,
};

/** What `Date.now()` returns inside the isolate unless the job says otherwise: 2024-01-01T00:00:00Z. */
export const DEFAULT_NOW = Date.UTC(2024, 0, 1);

/** Caps on the job itself (set by the pool's owner, not by the submitted code). */
export interface JobCaps {
  maxCodeBytes: number;
  maxCalls: number;
  maxArgsBytes: number;
}

const limitsSchema = z.object({
  // isolated-vm refuses memory limits below 8 MiB.
  memoryMb: z.number().int().min(8).max(8192),
  cpuTimeMs: z.number().int().min(1).max(600_000),
  wallTimeMs: z.number().int().min(1).max(3_600_000),
  maxConsoleBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024),
  maxResultBytes: z
    .number()
    .int()
    .min(16)
    .max(64 * 1024 * 1024),
});

const callableName = z.string().refine(isCallableName, "must be a plain identifier (not a reserved word)");

const jobSchema = z.object({
  code: z.string(),
  entry: callableName.optional(),
  calls: z.array(
    z.object({
      name: z.string().min(1).max(200),
      fn: callableName.optional(),
      args: z.array(z.unknown()).optional(),
      withholdConsole: z.boolean().optional(),
    }),
  ),
  limits: limitsSchema.partial().optional(),
  seed: z.number().int().optional(),
  now: z.number().finite().optional(),
});

export interface PreparedJob {
  wire: WireJob;
  callNames: string[];
}

/** Validates a job and encodes it for a child; throws `SandboxInvalidJobError` when it is malformed. */
export function prepareJob(job: SandboxJob<unknown>, defaults: SandboxLimits, caps: JobCaps): PreparedJob {
  const { schema: _schema, ...plain } = job;
  const parsed = jobSchema.safeParse(plain);
  if (!parsed.success) {
    throw new SandboxInvalidJobError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "job"}: ${i.message}`),
    );
  }
  const { code, entry, calls, seed, now } = parsed.data;
  const issues: string[] = [];
  if (Buffer.byteLength(code) > caps.maxCodeBytes)
    issues.push(`code: larger than ${caps.maxCodeBytes} bytes`);
  if (calls.length > caps.maxCalls) issues.push(`calls: more than ${caps.maxCalls}`);
  const limits = { ...defaults, ...parsed.data.limits };
  const checkedLimits = limitsSchema.safeParse(limits);
  if (!checkedLimits.success) issues.push("limits: the pool's defaults are out of range");

  let argsBytes = 0;
  const wireCalls = calls.map((call, index) => {
    const fn = call.fn ?? entry;
    if (!fn) issues.push(`calls.${index}.fn: no function named and the job has no entry`);
    let argsJson = "[]";
    try {
      argsJson = JSON.stringify(call.args ?? []);
    } catch (error) {
      issues.push(`calls.${index}.args: not JSON-serialisable (${(error as Error).message})`);
    }
    argsBytes += Buffer.byteLength(argsJson);
    return { name: call.name, fn: fn ?? "", argsJson, withholdConsole: call.withholdConsole === true };
  });
  if (argsBytes > caps.maxArgsBytes)
    issues.push(`calls: arguments larger than ${caps.maxArgsBytes} bytes in all`);
  if (issues.length > 0) throw new SandboxInvalidJobError(issues);

  return {
    wire: { code, calls: wireCalls, limits, seed: seed ?? 0, now: now ?? DEFAULT_NOW },
    callNames: wireCalls.map((c) => c.name),
  };
}
