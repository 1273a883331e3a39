import type ivmModule from "isolated-vm";
import type { Context, Isolate, Reference, Script } from "isolated-vm";
import { ConsoleCollector, submissionFrames } from "./output.ts";
import { exportsSource, PRELUDE_FILENAME, preludeSource, SUBMISSION_FILENAME } from "./prelude.ts";
import { failure, type WireCallResult, type WireJob, type WireResult } from "./protocol.ts";
import type { SandboxFailure, SandboxLimits } from "./types.ts";

type Ivm = typeof ivmModule;

/** How long a disposed isolate may take to give its thread back before the child is declared unhealthy. */
const SETTLE_AFTER_DISPOSE_MS = 300;
/** The prelude and the harness's own calls are tiny; they get this much time whatever the job's limit. */
const HARNESS_TIMEOUT_MS = 1000;

class DeadlineReached extends Error {}

/**
 * Runs one job in a fresh isolate and always resolves (never throws for anything the submitted code
 * does). Called inside a pool child, never in the API process.
 */
export async function runJobInIsolate(
  ivm: Ivm,
  job: WireJob,
  onCatastrophe: (m: string) => void,
): Promise<WireResult> {
  const run = new IsolateRun(ivm, job, onCatastrophe);
  try {
    return await run.execute();
  } finally {
    run.dispose();
  }
}

class IsolateRun {
  private readonly isolate: Isolate;
  private readonly limits: SandboxLimits;
  private readonly started = performance.now();
  private readonly consoleOut: ConsoleCollector;
  private readonly deadline: Promise<never>;
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private cpuNs = 0n;
  /** The isolated-vm operation in flight, to see whether it lets go once the isolate is disposed. */
  private inFlight: Promise<unknown> | undefined;
  private drainRef: Reference | undefined;

  constructor(
    ivm: Ivm,
    private readonly job: WireJob,
    onCatastrophe: (m: string) => void,
  ) {
    this.limits = job.limits;
    this.consoleOut = new ConsoleCollector(job.limits.maxConsoleBytes);
    this.isolate = new ivm.Isolate({ memoryLimit: job.limits.memoryMb, onCatastrophicError: onCatastrophe });
    this.deadline = new Promise<never>((_, reject) => {
      this.timer = setTimeout(() => {
        this.expired = true;
        this.snapshotCpu();
        this.disposeIsolate();
        reject(new DeadlineReached());
      }, job.limits.wallTimeMs);
    });
    // The race below may end before anyone awaits the deadline.
    this.deadline.catch(() => {});
  }

  async execute(): Promise<WireResult> {
    const { job, limits } = this;
    let context: Context;
    let harness: Reference;
    try {
      context = await this.guard(this.isolate.createContext());
      const prelude = await this.guard(
        this.isolate.compileScript(preludeSource(this.preludeConfig()), { filename: PRELUDE_FILENAME }),
      );
      harness = await this.guard(prelude.run(context, { reference: true, timeout: HARNESS_TIMEOUT_MS }));
      this.drainRef = await this.guard(harness.get("drainConsole", { reference: true }));
    } catch (error) {
      return this.finish("error", [], this.classify(error, "runtime"));
    }

    let script: Script;
    try {
      script = await this.guard(this.isolate.compileScript(job.code, { filename: SUBMISSION_FILENAME }));
    } catch (error) {
      return this.finish("error", [], this.classify(error, "syntax"));
    }
    const topLevel = await this.attempt(script.run(context, { timeout: limits.cpuTimeMs, release: true }));
    await this.drainConsole();
    if (!topLevel.ok) return this.finish("error", [], this.classify(topLevel.error, "runtime"));

    const calls: WireCallResult[] = [];
    if (job.calls.length === 0) return this.finish("ok", calls);
    let invoke: Reference;
    try {
      const names = [...new Set(job.calls.map((c) => c.fn))];
      const exportsScript = await this.guard(this.isolate.compileScript(exportsSource(names)));
      const exportsRef = await this.guard(
        exportsScript.run(context, { reference: true, timeout: HARNESS_TIMEOUT_MS }),
      );
      const setExports = await this.guard(harness.get("setExports", { reference: true }));
      await this.guard(
        setExports.apply(undefined, [exportsRef.derefInto()], { timeout: HARNESS_TIMEOUT_MS }),
      );
      invoke = await this.guard(harness.get("invoke", { reference: true }));
    } catch (error) {
      return this.finish("error", calls, this.classify(error, "runtime"));
    }

    for (const call of job.calls) {
      const t0 = performance.now();
      const outcome = await this.attempt(
        invoke.apply(undefined, [call.fn, call.argsJson], {
          arguments: { copy: true },
          result: { promise: true, copy: true },
          timeout: limits.cpuTimeMs,
        }),
      );
      const timeMs = performance.now() - t0;
      await this.drainConsole(call.withholdConsole);
      if (outcome.ok) {
        calls.push(this.decodeCall(call.name, outcome.value, timeMs));
        continue;
      }
      const problem = this.classify(outcome.error, "runtime");
      calls.push({ name: call.name, ok: false, error: problem, timeMs });
      // A CPU timeout stops only this call; the isolate survives it. Memory and the deadline end the job.
      if (problem.kind === "memory" || this.expired || this.isolate.isDisposed) {
        return this.finish("error", calls, problem);
      }
    }
    return this.finish("ok", calls);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.disposeIsolate();
  }

  private disposeIsolate(): void {
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // isolated-vm disposed it meanwhile (memory limit)
    }
  }

  private preludeConfig() {
    const { job, limits } = this;
    return {
      seed: job.seed,
      now: job.now,
      maxConsoleBytes: limits.maxConsoleBytes,
      maxResultBytes: limits.maxResultBytes,
    };
  }

  /** Races an isolated-vm operation against the job's wall-clock deadline. */
  private guard<T>(operation: Promise<T>): Promise<T> {
    this.inFlight = operation;
    operation.catch(() => {});
    return Promise.race([operation, this.deadline]);
  }

  private async attempt<T>(
    operation: Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    try {
      return { ok: true, value: await this.guard(operation) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  private snapshotCpu(): void {
    try {
      if (!this.isolate.isDisposed) this.cpuNs = this.isolate.cpuTime;
    } catch {
      // a disposed isolate keeps its last reading
    }
  }

  /** `discard`: the output is read out of the isolate (so that a later call cannot carry it) and dropped. */
  private async drainConsole(discard = false): Promise<void> {
    if (!this.drainRef || this.isolate.isDisposed) return;
    try {
      const drained = (await this.guard(
        this.drainRef.apply(undefined, [], { result: { copy: true }, timeout: HARNESS_TIMEOUT_MS }),
      )) as { text?: unknown; truncated?: unknown } | undefined;
      if (!discard && drained && typeof drained.text === "string")
        this.consoleOut.append(drained.text, drained.truncated === true);
    } catch {
      // a dead or tampered harness just stops providing output
    }
  }

  private decodeCall(name: string, raw: unknown, timeMs: number): WireCallResult {
    const limit = this.limits.maxResultBytes;
    if (typeof raw !== "string" || raw.length === 0) {
      return { name, ok: false, error: failure("result", "the sandbox harness returned nothing"), timeMs };
    }
    const body = raw.slice(1);
    if (raw[0] === "R") {
      if (Buffer.byteLength(body) > limit + 8) {
        return {
          name,
          ok: false,
          error: failure("result", `the return value takes more than ${limit} bytes as JSON`),
          timeMs,
        };
      }
      return { name, ok: true, valueJson: body, timeMs };
    }
    return { name, ok: false, error: parseHarnessFailure(body), timeMs };
  }

  private classify(error: unknown, fallback: "syntax" | "runtime"): SandboxFailure {
    const { limits } = this;
    if (this.expired || error instanceof DeadlineReached) {
      return failure(
        "timeout",
        `the job did not finish within its wall-clock deadline of ${limits.wallTimeMs} ms`,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    if (this.isolate.isDisposed || /memory limit/i.test(message)) {
      return failure("memory", `the memory limit of ${limits.memoryMb} MiB was reached`);
    }
    if (/timed out/i.test(message)) {
      return failure("timeout", `execution took more than the CPU limit of ${limits.cpuTimeMs} ms`);
    }
    const name = error instanceof Error ? error.name : "Error";
    const stack = error instanceof Error ? submissionFrames(error.stack) : undefined;
    return failure(fallback, `${name}: ${message}`.slice(0, 2000), stack);
  }

  private async finish(
    status: "ok" | "error",
    calls: WireCallResult[],
    error?: SandboxFailure,
  ): Promise<WireResult> {
    clearTimeout(this.timer);
    let memoryBytes = 0;
    if (error?.kind === "memory") {
      memoryBytes = this.limits.memoryMb * 1024 * 1024;
    } else if (!this.isolate.isDisposed) {
      try {
        const heap = await this.isolate.getHeapStatistics();
        memoryBytes = heap.total_heap_size + heap.externally_allocated_size;
      } catch {
        // disposed meanwhile
      }
    }
    this.snapshotCpu();
    const healthy = this.expired ? await settlesWithin(this.inFlight, SETTLE_AFTER_DISPOSE_MS) : true;
    const out = this.consoleOut.result();
    const result: WireResult = {
      status,
      calls,
      console: out.text,
      consoleTruncated: out.truncated,
      cpuTimeMs: Number(this.cpuNs) / 1e6,
      wallTimeMs: performance.now() - this.started,
      memoryBytes,
      healthy,
    };
    if (error) result.error = error;
    return result;
  }
}

function parseHarnessFailure(body: string): SandboxFailure {
  try {
    const parsed = JSON.parse(body.slice(0, 16_384)) as {
      kind?: unknown;
      message?: unknown;
      stack?: unknown;
    };
    const kind = parsed.kind === "result" ? "result" : "runtime";
    const message = typeof parsed.message === "string" ? parsed.message.slice(0, 2000) : "the call failed";
    return failure(
      kind,
      message,
      typeof parsed.stack === "string" ? submissionFrames(parsed.stack) : undefined,
    );
  } catch {
    return failure("runtime", "the call failed and its error could not be read");
  }
}

function settlesWithin(operation: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!operation) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    operation.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
