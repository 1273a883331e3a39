import type { RunResources, RunStatus } from "../db/entities/Run.ts";
import type { EnvRunnerSpec } from "../rl/ppo/distributed.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { RolloutCollectorState } from "../rl/ppo/rollout.ts";
import type { IterationMetrics } from "../rl/ppo/trainer.ts";
import type { PolicyMessage, RunnerSample } from "./env-runner.ts";
import { RunLearner } from "./learner.ts";
import { Mailbox } from "./mailbox.ts";
import { assertTransition, isTerminal } from "./run-state.ts";

/** The fixed part of a run, as its actor needs it. */
export interface RunDescriptor {
  id: string;
  ownerId: string;
  envId: string;
  config: Hyperparameters;
  resources: RunResources;
}

export interface StoredCheckpoint {
  iteration: number;
  bytes: Uint8Array;
  runnerStates: RolloutCollectorState[];
}

/** One iteration's point, metrics under CleanRL's keys (non-finite values as null, as JSON stores them). */
export interface MetricRecord {
  iteration: number;
  globalStep: number;
  metrics: Record<string, number | null>;
}

/** The actor's view of the database. Every write checks the lease: a run has one host. */
export interface RunStore {
  /** The stored status, or null when the run is gone (deleted) or its lease is no longer ours. */
  status(runId: string): Promise<RunStatus | null>;
  /** Moves the stored status (optimistic lock); false when it is no longer `from` (someone else moved it). */
  transition(
    runId: string,
    from: RunStatus,
    to: RunStatus,
    extra?: { failureReason?: string | null },
  ): Promise<boolean>;
  /** Upserts the iteration's point, advances the counters; returns the stored status (null: gone). */
  recordIteration(runId: string, point: MetricRecord): Promise<RunStatus | null>;
  saveCheckpoint(runId: string, checkpoint: StoredCheckpoint & { globalStep: number }): Promise<void>;
  latestCheckpoint(runId: string): Promise<StoredCheckpoint | null>;
}

export interface RunnerHandle {
  id: string;
  nodeID: string;
}

/** Env runners on worker nodes: reserved all together or not at all. */
export interface RunnerPool {
  reserve(runId: string, count: number, gpu: boolean): Promise<RunnerHandle[] | null>;
  init(handle: RunnerHandle, spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<void>;
  sample(handle: RunnerHandle, weights: PolicyMessage): Promise<RunnerSample>;
  release(runId: string, handles: readonly RunnerHandle[]): Promise<void>;
}

export interface RunEvents {
  statusChanged(run: RunDescriptor, status: RunStatus): void;
  metrics(run: RunDescriptor, point: MetricRecord): void;
}

export interface TrainingRunOptions {
  checkpointEvery: number;
  /** How long a queued run waits before it tries to reserve runners again. */
  retryMs: number;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

type Message = { type: "tick" } | { type: "wake" } | { type: "deactivate" };

/**
 * The TrainingRun actor: one run, one mailbox, the iteration loop of synchronous PPO with
 * distributed rollouts (DESIGN.md, "Iteration"):
 *   reserve runners → send weights (versioned) and the step budget → gather trajectories →
 *   Learner update → MetricPoint (upsert) → checkpoint every K iterations and at the end → next.
 * Each iteration is one `tick` message, so a stop request (written to the database by the runs
 * service) is seen at the next iteration boundary, within one iteration. The database is the source
 * of truth for the status; the actor's `status` mirrors what it last read or wrote.
 */
export class TrainingRun {
  status: RunStatus;
  private readonly mailbox: Mailbox<Message>;
  private learner: RunLearner | null = null;
  private runners: RunnerHandle[] = [];
  private runnerStates: RolloutCollectorState[] = [];
  private lastCheckpoint = -1;
  private retryTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private resolveFinished!: () => void;
  /** Resolves when the actor has ended: the run reached a terminal status, or it was deactivated. */
  readonly ended: Promise<void>;

  constructor(
    readonly run: RunDescriptor,
    initialStatus: RunStatus,
    private readonly store: RunStore,
    private readonly pool: RunnerPool,
    private readonly events: RunEvents,
    private readonly options: TrainingRunOptions,
  ) {
    this.status = initialStatus;
    this.ended = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
    this.mailbox = new Mailbox<Message>(
      (m) => this.receive(m),
      (err) => void this.fail(err),
    );
  }

  get active(): boolean {
    return !this.finished;
  }

  /** Starts the loop (the first tick). */
  activate(): void {
    this.mailbox.post({ type: "tick" });
  }

  /** A hint that something changed (a stop request, freed worker slots): a queued run retries now. */
  wake(): void {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.mailbox.post({ type: "wake" });
    }
  }

  /** Ends the actor without changing the run's status (deletion, node shutdown); runners are released. */
  deactivate(): Promise<void> {
    this.mailbox.post({ type: "deactivate" });
    return this.ended;
  }

  private async receive(message: Message): Promise<void> {
    if (this.finished) return;
    if (message.type === "deactivate") return this.finish();
    if (this.learner === null) return this.prepare();
    return this.iterate();
  }

  /** Queued (or re-activated): reserve runners, restore learner and runners, then go to running. */
  private async prepare(): Promise<void> {
    const stored = await this.store.status(this.run.id);
    if (stored === null || isTerminal(stored)) return this.finish();
    this.status = stored;
    if (stored === "stopping") return this.settle("stopping", "stopped");
    const { runners, envsPerRunner, gpu } = this.run.resources;
    const handles = await this.pool.reserve(this.run.id, runners, gpu);
    if (handles === null) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.mailbox.post({ type: "tick" });
      }, this.options.retryMs);
      return;
    }
    this.runners = handles;
    const checkpoint = await this.store.latestCheckpoint(this.run.id);
    this.learner = await RunLearner.create(this.run.envId, this.run.config, checkpoint?.bytes);
    this.lastCheckpoint = checkpoint?.iteration ?? -1;
    const states = checkpoint?.runnerStates.length === runners ? checkpoint.runnerStates : undefined;
    await Promise.all(
      handles.map((h, index) =>
        this.pool.init(
          h,
          { envId: this.run.envId, config: this.run.config, numEnvs: envsPerRunner, index },
          states?.[index],
        ),
      ),
    );
    if (stored === "queued") {
      if (!(await this.move("queued", "running"))) return this.prepare();
    }
    this.mailbox.post({ type: "tick" });
  }

  private async iterate(): Promise<void> {
    const learner = this.learner!;
    if (learner.done) return this.complete();
    const started = performance.now();
    const weights = learner.weights();
    const samples = await Promise.all(this.runners.map((h) => this.pool.sample(h, weights)));
    this.runnerStates = samples.map((s) => s.state);
    const m = learner.learn(
      samples.map((s) => s.rollout),
      started,
    );
    const point = toMetricRecord(m);
    const stored = await this.store.recordIteration(this.run.id, point);
    if (stored === null) return this.finish();
    this.events.metrics(this.run, point);
    if (learner.done) return this.complete();
    if (learner.iteration % this.options.checkpointEvery === 0) await this.checkpoint();
    if (stored === "stopping") {
      this.status = "stopping";
      return this.settle("stopping", "stopped");
    }
    this.mailbox.post({ type: "tick" });
  }

  private async complete(): Promise<void> {
    await this.checkpoint();
    const moved = await this.move("running", "completed");
    // A stop that raced the last iteration: the run is complete anyway, with its final checkpoint.
    if (!moved && (await this.store.status(this.run.id)) === "stopping")
      await this.move("stopping", "stopped");
    return this.finish();
  }

  /** A stop: the last finished iteration is checkpointed, so that a resume continues from it. */
  private async settle(from: RunStatus, to: RunStatus): Promise<void> {
    if (this.learner && this.runnerStates.length > 0) await this.checkpoint();
    await this.move(from, to);
    return this.finish();
  }

  private async checkpoint(): Promise<void> {
    const learner = this.learner;
    if (!learner || learner.iteration === this.lastCheckpoint || this.runnerStates.length === 0) return;
    await this.store.saveCheckpoint(this.run.id, {
      iteration: learner.iteration,
      globalStep: learner.globalStep,
      bytes: learner.checkpoint(this.runnerStates),
      runnerStates: this.runnerStates,
    });
    this.lastCheckpoint = learner.iteration;
  }

  private async move(from: RunStatus, to: RunStatus, failureReason?: string): Promise<boolean> {
    assertTransition(from, to);
    const moved = await this.store.transition(this.run.id, from, to, { failureReason });
    if (moved) {
      this.status = to;
      this.events.statusChanged(this.run, to);
    }
    return moved;
  }

  private async fail(err: unknown): Promise<void> {
    const reason = err instanceof Error ? err.message : String(err);
    this.options.log?.error({ err, runId: this.run.id }, "training run failed");
    try {
      const stored = await this.store.status(this.run.id);
      if (stored !== null && !isTerminal(stored)) await this.move(stored, "failed", reason);
    } catch (writeErr) {
      this.options.log?.error({ err: writeErr, runId: this.run.id }, "could not record the run's failure");
    }
    await this.finish();
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const handles = this.runners;
    this.runners = [];
    try {
      await this.pool.release(this.run.id, handles);
    } catch (err) {
      this.options.log?.warn({ err, runId: this.run.id }, "releasing env runners failed");
    }
    this.learner?.dispose();
    this.learner = null;
    this.resolveFinished();
  }
}

/** CleanRL's keys, with non-finite values (no finished episode, zero-variance returns) as null. */
export function toMetricRecord(m: IterationMetrics): MetricRecord {
  const metrics: Record<string, number | null> = {};
  for (const [key, value] of Object.entries(m)) {
    if (key === "iteration" || key === "global_step") continue;
    metrics[key] = typeof value === "number" && Number.isFinite(value) ? value : null;
  }
  return { iteration: m.iteration, globalStep: m.global_step, metrics };
}
