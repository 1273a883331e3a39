import { availableParallelism } from "node:os";
import type { ZodType } from "zod";
import { SandboxBusyError, SandboxClosedError, SandboxUnavailableError } from "./errors.ts";
import { DEFAULT_LIMITS, type JobCaps, prepareJob } from "./job.ts";
import { type ChildMessage, failure, type ParentMessage, type WireJob, type WireResult } from "./protocol.ts";
import { decodeResult, lostResult } from "./result.ts";
import { type ChildExit, SupervisedChild } from "./supervised-child.ts";
import type { SandboxFailure, SandboxJob, SandboxLimits, SandboxResult } from "./types.ts";

export interface SandboxPoolOptions {
  /** Child processes, each running one job at a time. Default: one per core but one, at least 1. */
  size?: number;
  /** Jobs that may wait for a free child; beyond, `run` rejects with `SandboxBusyError`. Default 64. */
  maxQueue?: number;
  /** Limits of jobs that do not set their own. */
  limits?: Partial<SandboxLimits>;
  maxCodeBytes?: number;
  maxCalls?: number;
  maxArgsBytes?: number;
  /** A child is replaced after this many jobs, so that slow leaks in native code cannot pile up. */
  maxJobsPerChild?: number;
  /** Time past a job's wall-clock deadline after which its child is deemed hung, killed and replaced. */
  graceMs?: number;
  /** Time a new child has to load isolated-vm and say it is ready. */
  startTimeoutMs?: number;
}

export interface SandboxPoolStats {
  size: number;
  ready: number;
  busy: number;
  queued: number;
  /** Children started to replace ones that died, hung, or were retired. */
  replaced: number;
  /** Process ids of the live children. */
  pids: number[];
}

const STARTUP_FAILURES_BEFORE_GIVING_UP = 3;
const STOP_GRACE_MS = 2000;

interface Task {
  wire: WireJob;
  callNames: string[];
  schema: ZodType<unknown> | undefined;
  resolve(result: SandboxResult<unknown>): void;
  reject(error: Error): void;
}

interface Slot {
  /** Its first failure (a deadline, a crash) is the running job's. */
  child: SupervisedChild<ParentMessage, ChildMessage, SandboxFailure>;
  /** `retiring`: killed after its last job (unhealthy or worn out), waiting to exit. */
  state: "starting" | "idle" | "busy" | "retiring" | "gone";
  task: Task | undefined;
  taskStarted: number;
  jobs: number;
}

/** How a job ended whose process was killed or died under it. */
function timeout(wallTimeMs: number): SandboxFailure {
  return failure(
    "timeout",
    `the job did not finish within its wall-clock deadline of ${wallTimeMs} ms; its process was replaced`,
  );
}

/**
 * A pool of child processes that run submitted JavaScript in isolated-vm isolates, one fresh isolate
 * per job. The caller's process never loads isolated-vm nor runs submitted code: a job that kills
 * its process only costs that child, which is replaced while the other children keep serving.
 */
export class SandboxPool {
  readonly size: number;
  private readonly maxQueue: number;
  private readonly defaults: SandboxLimits;
  private readonly caps: JobCaps;
  private readonly maxJobsPerChild: number;
  private readonly graceMs: number;
  private readonly startTimeoutMs: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly readyWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private replaced = 0;
  private startupFailures = 0;
  private broken: string | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(options: SandboxPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? availableParallelism() - 1));
    this.maxQueue = options.maxQueue ?? 64;
    this.defaults = { ...DEFAULT_LIMITS, ...options.limits };
    this.caps = {
      maxCodeBytes: options.maxCodeBytes ?? 256 * 1024,
      maxCalls: options.maxCalls ?? 1000,
      maxArgsBytes: options.maxArgsBytes ?? 16 * 1024 * 1024,
    };
    this.maxJobsPerChild = options.maxJobsPerChild ?? 500;
    this.graceMs = options.graceMs ?? 2000;
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    for (let i = 0; i < this.size; i++) this.spawn();
  }

  /**
   * Runs a job and resolves with its result, whatever the code does. Rejects only for the pool's own
   * reasons: `SandboxInvalidJobError`, `SandboxBusyError`, `SandboxClosedError`, `SandboxUnavailableError`.
   */
  async run<T>(job: SandboxJob<T>): Promise<SandboxResult<T>> {
    if (this.closing) throw new SandboxClosedError();
    if (this.broken) throw new SandboxUnavailableError(this.broken);
    const { wire, callNames } = prepareJob(job, this.defaults, this.caps);
    if (this.queue.length >= this.maxQueue) throw new SandboxBusyError(this.queue.length);
    const result = await new Promise<SandboxResult<unknown>>((resolve, reject) => {
      this.queue.push({ wire, callNames, schema: job.schema, resolve, reject });
      this.dispatch();
    });
    return result as SandboxResult<T>;
  }

  /** Resolves once every child has started (useful before measuring); rejects if they cannot start. */
  ready(): Promise<void> {
    if (this.broken) return Promise.reject(new SandboxUnavailableError(this.broken));
    if (this.readyCount() >= this.size) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  stats(): SandboxPoolStats {
    const live = [...this.slots].filter((s) => s.state !== "gone");
    return {
      size: this.size,
      ready: this.readyCount(),
      busy: live.filter((s) => s.state === "busy").length,
      queued: this.queue.length,
      replaced: this.replaced,
      pids: live.flatMap((s) => (s.child.pid === undefined ? [] : [s.child.pid])),
    };
  }

  /** Refuses new jobs, rejects queued ones, lets running ones finish, then stops every child. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const task of this.queue.splice(0)) task.reject(new SandboxClosedError());
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new SandboxClosedError());
    while ([...this.slots].some((s) => s.state === "busy")) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await Promise.all([...this.slots].map((slot) => slot.child.stop(STOP_GRACE_MS)));
  }

  private readyCount(): number {
    return [...this.slots].filter((s) => s.state === "idle" || s.state === "busy").length;
  }

  private spawn(): void {
    const slot: Slot = {
      child: new SupervisedChild({
        entry: "child",
        serialization: "json",
        name: "the sandbox process",
        exitFailure: (exit) => this.exitFailure(slot, exit),
      }),
      state: "starting",
      task: undefined,
      taskStarted: 0,
      jobs: 0,
    };
    this.slots.add(slot);
    // A child that is not ready in time is killed; its exit counts against the startup failures.
    slot.child
      .ready(this.startTimeoutMs, () => failure("crash", "the sandbox process did not start"))
      .then(
        () => this.onReady(slot),
        () => {},
      );
    void slot.child.exited.then((exit) => this.onExit(slot, exit));
  }

  private onReady(slot: Slot): void {
    slot.state = "idle";
    this.startupFailures = 0;
    if (this.readyCount() >= this.size) for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.state !== "idle") continue;
      const task = this.queue.shift()!;
      slot.state = "busy";
      slot.task = task;
      slot.taskStarted = performance.now();
      const { wallTimeMs } = task.wire.limits;
      // The child enforces the deadline itself; this one only catches a child that cannot. A job
      // whose child is lost is answered when the child has exited (`onExit`).
      slot.child
        .request({ type: "run", job: task.wire }, wallTimeMs + this.graceMs, () => timeout(wallTimeMs))
        .then(
          (reply) => this.complete(slot, reply.result),
          () => {},
        );
    }
  }

  private complete(slot: Slot, wire: WireResult): void {
    const task = slot.task!;
    slot.task = undefined;
    slot.jobs++;
    task.resolve(decodeResult(wire, task.callNames, task.schema));
    if (!wire.healthy || slot.jobs >= this.maxJobsPerChild) {
      slot.state = "retiring";
      slot.child.kill();
    } else {
      slot.state = "idle";
    }
    this.afterIdle();
  }

  /** Why a child that the pool did not kill exited. */
  private exitFailure(slot: Slot, { code, signal, fatal }: ChildExit): SandboxFailure {
    // Past its deadline, a job whose process dies (an isolate that ignored termination) is a timeout.
    if (slot.task && performance.now() - slot.taskStarted >= slot.task.wire.limits.wallTimeMs)
      return timeout(slot.task.wire.limits.wallTimeMs);
    return failure(
      "crash",
      fatal
        ? `the sandbox process hit a fatal isolate error (${fatal}) and was replaced`
        : `the sandbox process exited (${signal ?? `code ${code}`}) and was replaced`,
    );
  }

  private onExit(slot: Slot, { code, signal }: ChildExit): void {
    const wasStarting = slot.state === "starting";
    slot.state = "gone";
    this.slots.delete(slot);
    const task = slot.task;
    slot.task = undefined;
    if (task)
      task.resolve(lostResult(task.callNames, slot.child.failure!, performance.now() - slot.taskStarted));
    if (this.closing) {
      this.afterIdle();
      return;
    }
    if (wasStarting && ++this.startupFailures >= STARTUP_FAILURES_BEFORE_GIVING_UP) {
      this.giveUp(
        `${this.startupFailures} processes in a row exited before they were ready (last: ${signal ?? `code ${code}`})`,
      );
      return;
    }
    this.replaced++;
    this.spawn();
    this.afterIdle();
  }

  private giveUp(reason: string): void {
    this.broken = reason;
    const error = new SandboxUnavailableError(reason);
    for (const task of this.queue.splice(0)) task.reject(error);
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
  }

  private afterIdle(): void {
    this.dispatch();
    if (![...this.slots].some((s) => s.state === "busy"))
      for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
