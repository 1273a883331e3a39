import { EnvRunner, type PolicyMessage, type RunnerSample } from "../../../actors/env-runner.ts";
import type {
  MetricRecord,
  RunDescriptor,
  RunEvents,
  RunnerHandle,
  RunnerPool,
  RunStore,
  StoredCheckpoint,
} from "../../../actors/training-run.ts";
import { isTerminal, type RunStatus } from "../../../contracts/run-status.ts";
import type { RunEvaluation } from "../../../contracts/runs.ts";
import type { EnvRunnerSpec } from "../../../rl/ppo/distributed.ts";
import type { RolloutCollectorState } from "../../../rl/ppo/rollout.ts";

/** One accepted write: what, for which iteration, by which activation (lease epoch). */
export interface Write {
  epoch: number;
  kind: "transition" | "iteration" | "checkpoint" | "runners";
  detail: string;
}

/**
 * A run's row, metric points and checkpoints in memory, shared by the activations that host it in
 * turn. Its lease is an epoch: a takeover raises it, and a store of an older epoch then writes
 * nothing (services/runs/store.ts's FENCE). Every accepted write is logged.
 */
export class MemoryRunTable {
  status: RunStatus = "queued";
  /** The pool's scheduler granted the run its slots: the actor's own tests play a scheduler that grants at once. */
  granted = true;
  epoch = 1;
  iteration = 0;
  globalStep = 0;
  runnersActive = 0;
  failureReason: string | null = null;
  evaluation: RunEvaluation | null = null;
  readonly points = new Map<number, MetricRecord>();
  readonly checkpoints = new Map<number, StoredCheckpoint & { globalStep: number }>();
  readonly writes: Write[] = [];
  /** Called with each point as it is stored (a test injects a fault after a given iteration). */
  onIteration: ((point: MetricRecord) => void) | null = null;
  /** Called with each status read (a test waits for the run to see a stop). */
  onStatusRead: ((status: RunStatus | null) => void) | null = null;

  /** Another node takes the run over: the current activation's lease is lost. */
  takeOver(): number {
    this.epoch += 1;
    return this.epoch;
  }

  /** A user's stop (services/runs/store.ts requestStop): running → stopping, queued → stopped. */
  requestStop(): void {
    if (this.status === "running") this.status = "stopping";
    else if (this.status === "queued") this.status = "stopped";
  }

  /** A user's resume (services/runs/store.ts requestResume): back to the queue under a new lease. */
  resume(): void {
    if (this.status !== "stopped" && this.status !== "failed")
      throw new Error(`cannot resume a ${this.status} run`);
    this.status = "queued";
    this.failureReason = null;
    this.takeOver();
  }

  store(): MemoryRunStore {
    return new MemoryRunStore(this, this.epoch);
  }
}

export class MemoryRunStore implements RunStore {
  constructor(
    private readonly table: MemoryRunTable,
    readonly epoch: number,
  ) {}

  private get live(): boolean {
    return this.table.epoch === this.epoch;
  }

  private write(kind: Write["kind"], detail: string): void {
    this.table.writes.push({ epoch: this.epoch, kind, detail });
  }

  async status(): Promise<RunStatus | null> {
    const status = this.live ? this.table.status : null;
    this.table.onStatusRead?.(status);
    return status;
  }

  async granted(): Promise<boolean> {
    return this.live && this.table.granted;
  }

  async transition(
    _runId: string,
    from: RunStatus,
    to: RunStatus,
    extra: { failureReason?: string | null; evaluation?: RunEvaluation } = {},
  ): Promise<boolean> {
    if (!this.live || this.table.status !== from) return false;
    this.table.status = to;
    if (extra.failureReason !== undefined) this.table.failureReason = extra.failureReason;
    if (extra.evaluation !== undefined) this.table.evaluation = extra.evaluation;
    if (isTerminal(to)) this.table.runnersActive = 0;
    this.write("transition", `${from} → ${to}`);
    return true;
  }

  async recordIteration(
    _runId: string,
    point: MetricRecord,
    runnersActive: number,
  ): Promise<RunStatus | null> {
    if (!this.live) return null;
    Object.assign(this.table, { iteration: point.iteration, globalStep: point.globalStep, runnersActive });
    this.table.points.set(point.iteration, structuredClone(point));
    this.write("iteration", String(point.iteration));
    this.table.onIteration?.(point);
    return this.table.status;
  }

  async saveCheckpoint(
    _runId: string,
    checkpoint: StoredCheckpoint & { globalStep: number },
  ): Promise<boolean> {
    if (!this.live) return false;
    this.table.checkpoints.set(checkpoint.iteration, structuredClone(checkpoint));
    this.write("checkpoint", String(checkpoint.iteration));
    return true;
  }

  async setRunnersActive(_runId: string, runnersActive: number): Promise<boolean> {
    if (!this.live) return false;
    this.table.runnersActive = runnersActive;
    this.write("runners", String(runnersActive));
    return true;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const latest = Math.max(-1, ...this.table.checkpoints.keys());
    const c = this.table.checkpoints.get(latest);
    return c
      ? structuredClone({ iteration: c.iteration, bytes: c.bytes, runnerStates: c.runnerStates })
      : null;
  }

  async codeEnv(): Promise<null> {
    return null;
  }
}

/** What a runner's sample may be made to do first: fail (its node died) or wait (a test's gate). */
export type SampleHook = (handle: RunnerHandle, sample: number) => void | Promise<void>;

/**
 * Worker nodes' env runner slots, in this process: real EnvRunners (rl/'s collectors), reached
 * through structured clones as the runners' messages would be. A node can die (`kill`): its runners'
 * samples fail and its slots are gone, as with a worker process that exited.
 */
export class MemoryRunnerPool implements RunnerPool {
  private readonly free = new Map<string, number>();
  private readonly runners = new Map<string, { handle: RunnerHandle; runner: EnvRunner | null }>();
  private nextId = 0;
  /** Samples answered or failed so far, all runners together. */
  samples = 0;
  onSample: SampleHook | null = null;
  readonly log: string[] = [];

  constructor(nodes: Record<string, number>) {
    for (const [node, slots] of Object.entries(nodes)) this.free.set(node, slots);
  }

  /** Runners alive now. */
  get held(): number {
    return this.runners.size;
  }

  /** A node joins with free slots. */
  addNode(node: string, slots: number): void {
    this.free.set(node, slots);
  }

  /** The node dies: its runners fail from now on and its slots are gone. */
  kill(node: string): void {
    this.free.delete(node);
    for (const r of this.runners.values()) if (r.handle.nodeID === node) r.runner = null;
    this.log.push(`kill ${node}`);
  }

  private take(runId: string): RunnerHandle | null {
    for (const [node, slots] of this.free) {
      if (slots === 0) continue;
      this.free.set(node, slots - 1);
      const handle = { id: `${runId}/r${this.nextId++}`, nodeID: node };
      this.runners.set(handle.id, { handle, runner: null });
      return handle;
    }
    return null;
  }

  async reserve(runId: string, count: number): Promise<RunnerHandle[] | null> {
    const total = [...this.free.values()].reduce((a, b) => a + b, 0);
    if (total < count) return null;
    return Array.from({ length: count }, () => this.take(runId)!);
  }

  async reserveOne(runId: string): Promise<RunnerHandle | null> {
    const handle = this.take(runId);
    if (handle) this.log.push(`replacement ${handle.id} on ${handle.nodeID}`);
    return handle;
  }

  async init(handle: RunnerHandle, spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<void> {
    const slot = this.runners.get(handle.id);
    if (!slot || !this.free.has(handle.nodeID)) throw new Error(`runner ${handle.id}: its node is gone`);
    slot.runner = await EnvRunner.create(structuredClone(spec), state && structuredClone(state));
  }

  async sample(handle: RunnerHandle, weights: PolicyMessage): Promise<RunnerSample> {
    const n = this.samples++;
    await this.onSample?.(handle, n);
    const runner = this.runners.get(handle.id)?.runner;
    if (!runner) throw new Error(`runner ${handle.id}: its node is gone`);
    const { rollout, state } = await runner.sample(structuredClone(weights));
    return { rollout, state: structuredClone(state) };
  }

  async release(_runId: string, handles: readonly RunnerHandle[]): Promise<readonly RunnerHandle[]> {
    for (const h of handles) {
      if (!this.runners.delete(h.id)) continue;
      const slots = this.free.get(h.nodeID);
      if (slots !== undefined) this.free.set(h.nodeID, slots + 1);
    }
    return [];
  }
}

/** The events a run's actor sent, in order. */
export class RecordedRunEvents implements RunEvents {
  readonly statuses: RunStatus[] = [];
  readonly points: MetricRecord[] = [];

  statusChanged(_run: RunDescriptor, status: RunStatus): void {
    this.statuses.push(status);
  }

  metrics(_run: RunDescriptor, point: MetricRecord): void {
    this.points.push(point);
  }
}
