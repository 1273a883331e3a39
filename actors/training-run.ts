import { assertTransition, isTerminal, type RunStatus } from "../contracts/run-status.ts";
import type { RunEvaluation, RunResources } from "../contracts/runs.ts";
import type { EnvSpaces } from "../rl/core/types.ts";
import { type CodeEnvDefinition, codeEnvSpaces, isCodeEnvId } from "../rl/envs/code-env.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import type { EnvRunnerSpec } from "../rl/ppo/distributed.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { IterationMetrics } from "../rl/ppo/ppo-learner.ts";
import type { RolloutCollectorState } from "../rl/ppo/rollout.ts";
import { ActorBase } from "./actor-base.ts";
import type { Clock } from "./clock.ts";
import type { PolicyMessage, RunnerSample } from "./env-runner.ts";
import { defaultEvaluationSeed } from "./evaluation.ts";
import { LearnerTerminatedError, LearnerThread } from "./learner-thread.ts";

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

/**
 * The actor's view of the database, for one activation: every write is conditional on the
 * activation's lease (fencing), so that a host that lost its lease cannot write. A write that finds the
 * lease gone (or the run deleted) changes nothing and answers null/false; the actor then ends without
 * another write. A thrown error is the database being unreachable: the actor retries later.
 */
export interface RunStore {
  /** The stored status, or null when the run is gone (deleted) or its lease is no longer ours. */
  status(runId: string): Promise<RunStatus | null>;
  /**
   * Whether its pool's scheduler granted the run its runner slots (actors/scheduler.ts): a queued run
   * reserves runners only once granted. False too when the lease is no longer ours.
   */
  granted(runId: string): Promise<boolean>;
  /** Moves the stored status; false when it is no longer `from` (someone else moved it) or the lease is gone. */
  transition(
    runId: string,
    from: RunStatus,
    to: RunStatus,
    extra?: { failureReason?: string | null; evaluation?: RunEvaluation },
  ): Promise<boolean>;
  /** Upserts the iteration's point, advances the counters; returns the stored status (null: gone). */
  recordIteration(runId: string, point: MetricRecord, runnersActive: number): Promise<RunStatus | null>;
  /** Upserts the checkpoint of its iteration; false when the lease is gone. */
  saveCheckpoint(runId: string, checkpoint: StoredCheckpoint & { globalStep: number }): Promise<boolean>;
  /** Records how many runner slots serve the run now; false when the lease is gone. */
  setRunnersActive(runId: string, runnersActive: number): Promise<boolean>;
  latestCheckpoint(runId: string): Promise<StoredCheckpoint | null>;
  /** The script and spec of an environment defined by code (`custom:<id>`); null when it is gone. */
  codeEnv(envId: string): Promise<CodeEnvDefinition | null>;
}

export interface RunnerHandle {
  id: string;
  nodeID: string;
  /** Hosted beside another runner of the run in that runner's slot (the run is short of slots). */
  shared?: boolean;
}

/** Env runners on worker nodes. */
export interface RunnerPool {
  /** `count` runners, all together or none (null), so that two half-served runs never block each other. */
  reserve(runId: string, count: number, gpu: boolean): Promise<RunnerHandle[] | null>;
  /**
   * One replacement runner: a free slot anywhere, else a place in a slot the run already holds on one of
   * `shareOn` (the run then continues on fewer slots); null when neither exists.
   */
  reserveOne(runId: string, gpu: boolean, shareOn: readonly string[]): Promise<RunnerHandle | null>;
  init(handle: RunnerHandle, spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<void>;
  sample(handle: RunnerHandle, weights: PolicyMessage): Promise<RunnerSample>;
  /** Frees the runners; answers those whose node could not be reached (the caller may try again later). */
  release(runId: string, handles: readonly RunnerHandle[]): Promise<readonly RunnerHandle[]>;
}

export interface RunEvents {
  statusChanged(run: RunDescriptor, status: RunStatus): void;
  metrics(run: RunDescriptor, point: MetricRecord): void;
}

export interface TrainingRunOptions {
  checkpointEvery: number;
  /** How long the run waits before it tries again: reserving runners, or a database that did not answer. */
  retryMs: number;
  /** Runner failures one iteration may absorb (each replaced) before the run fails. */
  runnerFailuresPerIteration?: number;
  /** Episodes of the deterministic evaluation of the final policy a completed run records; 0: none. */
  evaluationEpisodes?: number;
  /** The memory cap of the run's learner thread, MiB (LearnerThreadOptions.memoryMb); default 1024. */
  learnerMemoryMb?: number;
  /** The timer of its retries; the process's by default (a test's in unit tests). */
  clock?: Clock;
  /** Told of the events operators watch (the service's metrics): runners lost, replaced, checkpoint writes. */
  metrics?: {
    runnersLost(count: number): void;
    runnerReplaced(): void;
    checkpointWritten(seconds: number): void;
  };
  log?: {
    info?(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

/** The database did not answer (connection lost, server restarting): not the run's fault, retried. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** More runners failed in one iteration than the run may absorb. */
export class RunnerFailuresError extends Error {
  override name = "RunnerFailuresError";
}

/**
 * The run's environment failed (an environment defined by code threw, hung, ran out of memory or
 * returned malformed data): no other runner would do better, so the run fails with the env's message.
 */
export class EnvFailureError extends Error {
  override name = "EnvFailureError";
}

/**
 * Throws when one of the runners' errors is its env's fault (the workers' ENV_FAILED), not the
 * runner's or its node's: no other runner would do better.
 */
function throwEnvFailure(settled: readonly PromiseSettledResult<unknown>[]): void {
  for (const r of settled) {
    const reason: unknown = r.status === "rejected" ? r.reason : undefined;
    if (reason instanceof Error && (reason as { type?: unknown }).type === "ENV_FAILED")
      throw new EnvFailureError(reason.message, { cause: reason });
  }
}

/** One env runner's place in the run: index i is a fixed slice of the merged batch, wherever it runs. */
interface Shard {
  index: number;
  handle: RunnerHandle | null;
  /** The runner's collector state before its next sample: a replacement runner starts from it. */
  state: RolloutCollectorState | undefined;
}

/**
 * The TrainingRun actor: one run, one mailbox, the iteration loop of synchronous PPO with
 * distributed rollouts (DESIGN.md, "Iteration"):
 *   reserve runners → send weights (versioned) and the step budget → gather trajectories →
 *   Learner update → MetricPoint (upsert) → checkpoint every K iterations and at the end → next.
 * Each iteration is one `tick` message. The learner runs in a worker thread of its own
 * (LearnerThread), so the event loop that serves requests and renews leases is never held by it. A stop
 * request (written to the database by the runs service, then hinted with `wake`) interrupts the
 * update in progress before its next minibatch; the run then checkpoints its last finished iteration
 * and stops. A delete or a lost lease ends the learner's thread at once. A learner that fails (its
 * thread threw, died or exceeded its memory cap) fails the run with the reason; the process stays up.
 * The database is the source of truth for the status; the actor's `status` mirrors what it last read
 * or wrote.
 *
 * Faults. A runner that fails (its node died, timed out, drained) is dropped and its shard re-sampled
 * on a replacement started from the shard's state before the iteration, with the same weights, so
 * the iteration is neither failed nor changed: the run's metrics are those of an undisturbed run. A
 * database that does not answer is retried with the iteration's result kept. A lease found gone
 * (fenced) ends the actor without another write.
 */
export class TrainingRun extends ActorBase {
  status: RunStatus;
  private learner: LearnerThread | null = null;
  /** The learner while its thread builds it (a stop or delete ends it there). */
  private starting: LearnerThread | null = null;
  /** A stop was seen while the learner computed: the update in progress is interrupted, the run settles. */
  private stopSeen = false;
  private shards: Shard[] = [];
  /** The next iteration's rollouts gathered so far (by shard), with the weights of `version`. */
  private sampled: { iteration: number; version: number; results: (RunnerSample | undefined)[] } | null =
    null;
  /** Dropped runners whose node did not answer the release (retried every iteration). */
  private unreleased: RunnerHandle[] = [];
  /** The runner slot count last written to the run. */
  private slotsWritten = -1;
  /** An iteration learned but not yet recorded (the database did not answer): recorded before the next. */
  private unrecorded: MetricRecord | null = null;
  private lastCheckpoint = -1;
  /** The run's environment when it is defined by code (loaded at activation). */
  private codeEnv: CodeEnvDefinition | undefined;

  constructor(
    readonly run: RunDescriptor,
    initialStatus: RunStatus,
    private readonly store: RunStore,
    private readonly pool: RunnerPool,
    private readonly events: RunEvents,
    private readonly options: TrainingRunOptions,
  ) {
    super(options.retryMs, options.clock);
    this.status = initialStatus;
  }

  /**
   * A hint that something changed (a stop request, freed worker slots): a waiting run retries now, and
   * a run whose learner computes looks at its status, to interrupt the update when it is to stop.
   */
  override wake(): void {
    super.wake();
    if (this.active && (this.learner || this.starting)) void this.checkStop();
  }

  /** Interrupts the learner when the run is to stop (or already has): a hint, so errors are only logged. */
  private async checkStop(): Promise<void> {
    try {
      const stored = await this.store.status(this.run.id);
      if (stored === "stopping" || (stored !== null && isTerminal(stored))) {
        this.stopSeen = true;
        this.learner?.interrupt();
        // Nothing of a learner still being built is kept: its run settles from the stored checkpoint.
        await this.starting?.terminate();
      }
    } catch (err) {
      this.options.log?.warn({ err, runId: this.run.id }, "could not read the run's status on a hint");
    }
  }

  /**
   * Ends the learner's thread now (nothing of it is to be kept: a delete, a lost lease). A deactivation
   * with handover (node shutdown) keeps it: the iteration in progress finishes and is checkpointed
   * (`handover`), so that the node that takes the run over redoes nothing.
   */
  protected override abandon(): void {
    void this.learner?.terminate();
    void this.starting?.terminate();
  }

  /** Each tick is one step of the loop: prepare (queued, re-activated), else one iteration. */
  protected override tick(): Promise<void> {
    if (this.learner === null) return this.prepare();
    return this.iterate();
  }

  protected override async onError(err: unknown): Promise<void> {
    // Its learner was ended on purpose (delete, fence): the message that asked for it ends the actor.
    if (err instanceof LearnerTerminatedError) return;
    if (err instanceof StoreUnavailableError && this.active) {
      this.options.log?.warn({ err, runId: this.run.id }, "the database did not answer; retrying");
      return this.tickLater();
    }
    return this.fail(err);
  }

  /** A store call; a thrown error means the database did not answer (the actor retries later). */
  private async db<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new StoreUnavailableError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  /** Queued (or re-activated): restore the learner, reserve and initialise runners, then go to running. */
  private async prepare(): Promise<void> {
    const stored = await this.db(() => this.store.status(this.run.id));
    if (stored === null || isTerminal(stored)) return this.finish();
    this.status = stored;
    if (stored === "stopping") return this.settle("stopping", "stopped");
    const { runners, gpu } = this.run.resources;
    // Slots go to queued runs in fair-share order, decided by the pool's one scheduler: a queued run
    // waits for its grant (the scheduler wakes it), never racing the others for slots that free up.
    if (
      stored === "queued" &&
      this.shards.length === 0 &&
      !(await this.db(() => this.store.granted(this.run.id)))
    )
      return this.tickLater();
    if (this.shards.length === 0) {
      const handles = await this.pool.reserve(this.run.id, runners, gpu);
      if (handles === null) return this.tickLater();
      this.shards = handles.map((handle, index) => ({ index, handle, state: undefined }));
    }
    const spaces = await this.environment();
    const checkpoint = await this.db(() => this.store.latestCheckpoint(this.run.id));
    const learner = await this.startLearner(spaces, checkpoint?.bytes);
    if (learner === null) return this.prepare();
    // The runners' states are cut from the checkpoint's whole-run state (global env order), not taken
    // from its per-runner list: a checkpoint restores exactly into any split of the same envs.
    const { envsPerRunner } = this.run.resources;
    for (const shard of this.shards)
      shard.state = learner.runnerState(shard.index * envsPerRunner, envsPerRunner);
    // A runner that fails to initialise is dropped here and replaced before the first sample.
    await this.initRunners(this.shards.filter((s) => s.handle !== null));
    this.learner = learner;
    this.lastCheckpoint = checkpoint?.iteration ?? -1;
    if (stored === "queued") {
      if (!(await this.move("queued", "running"))) {
        await this.learner.terminate();
        this.learner = null;
        return this.prepare();
      }
    }
    this.tickNow();
  }

  /**
   * The run's learner, built in its thread from the checkpoint; null when a stop ended it while it was
   * being built (the caller reads the status again). Ended by a delete or lost lease, it throws
   * LearnerTerminatedError, which ends nothing by itself (the close message that follows does).
   */
  private async startLearner(spaces: EnvSpaces, checkpoint?: Uint8Array): Promise<LearnerThread | null> {
    const learner = new LearnerThread({
      envId: this.run.envId,
      config: this.run.config,
      spaces,
      memoryMb: this.options.learnerMemoryMb ?? 1024,
      ...(checkpoint ? { checkpoint } : {}),
    });
    this.starting = learner;
    try {
      await learner.ready;
      return learner;
    } catch (err) {
      await learner.terminate();
      if (err instanceof LearnerTerminatedError && this.stopSeen && !this.fenced) return null;
      throw err;
    } finally {
      this.starting = null;
    }
  }

  /** The spaces the run's networks are built for; an environment defined by code is loaded first. */
  private async environment(): Promise<EnvSpaces> {
    const { envId } = this.run;
    if (!isCodeEnvId(envId)) return builtinSpaces(envId);
    const codeEnv = await this.db(() => this.store.codeEnv(envId));
    if (!codeEnv) throw new EnvFailureError(`the environment ${envId} no longer exists`);
    this.codeEnv = codeEnv;
    return codeEnvSpaces(codeEnv.spec);
  }

  private async iterate(): Promise<void> {
    const learner = this.learner!;
    if (this.unrecorded === null) {
      if (learner.done) return this.complete();
      const started = performance.now();
      const samples = await this.sampleAll(learner.weights());
      if (samples === null) return this.tickLater();
      // Interrupted (or asked to stop before it began), the update changed nothing: the run stops at
      // its last finished iteration, whose runner states the shards still hold.
      const m = this.stopSeen
        ? null
        : await learner.learn(
            samples.map((s) => s.rollout),
            started,
          );
      if (m === null) return this.stopInterrupted();
      for (const shard of this.shards) shard.state = samples[shard.index]!.state;
      this.unrecorded = toMetricRecord(m);
    }
    const point = this.unrecorded;
    const slots = this.slotsHeld();
    const stored = await this.db(() => this.store.recordIteration(this.run.id, point, slots));
    if (stored === null) return this.finish();
    this.slotsWritten = slots;
    this.unrecorded = null;
    this.events.metrics(this.run, point);
    if (learner.done) return this.complete();
    if (learner.iteration % this.options.checkpointEvery === 0) {
      if (!(await this.checkpoint())) return this.finish();
    }
    if (stored === "stopping") {
      this.status = "stopping";
      return this.settle("stopping", "stopped");
    }
    this.tickNow();
  }

  /** A stop interrupted the update: the last finished iteration is checkpointed and the run stops. */
  private async stopInterrupted(): Promise<void> {
    this.status = "stopping";
    return this.settle("stopping", "stopped");
  }

  /**
   * One rollout per shard with the same weights. A shard whose runner fails is moved to a replacement
   * runner, restored from the shard's state before this iteration, and sampled again; the shards that
   * succeeded keep their results. Null when some shard has no runner to go to (the run waits).
   */
  private async sampleAll(weights: PolicyMessage): Promise<RunnerSample[] | null> {
    // Kept across a wait for runners: a shard that sampled already must not sample again (its runner's
    // state moved on), so the iteration resumes with the shards still missing.
    const iteration = this.learner?.iteration ?? -1;
    if (this.sampled?.version !== weights.version || this.sampled.iteration !== iteration)
      this.sampled = { iteration, version: weights.version, results: new Array(this.shards.length) };
    const results = this.sampled.results;
    const budget = this.options.runnerFailuresPerIteration ?? 20;
    let failures = 0;
    for (;;) {
      const todo = this.shards.filter((s) => results[s.index] === undefined);
      if (todo.length === 0) {
        this.sampled = null;
        return results as RunnerSample[];
      }
      if (!(await this.ensureRunners())) return null;
      const settled = await Promise.allSettled(todo.map((s) => this.pool.sample(s.handle!, weights)));
      throwEnvFailure(settled);
      const lost: Shard[] = [];
      settled.forEach((r, i) => {
        const shard = todo[i]!;
        if (r.status === "fulfilled") results[shard.index] = r.value;
        else {
          failures++;
          this.options.log?.warn(
            { err: r.reason, runId: this.run.id, runner: shard.handle, shard: shard.index },
            "an env runner failed; its shard moves to another runner",
          );
          lost.push(shard);
        }
      });
      await this.drop(lost);
      this.options.metrics?.runnersLost(lost.length);
      if (failures > budget) {
        const last = settled.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
        throw new RunnerFailuresError(
          `${failures} env runner failures in one iteration; the last: ${describe(last?.reason)}`,
        );
      }
    }
  }

  /**
   * Every shard gets a runner: replacements where a runner was dropped, and shards squeezed into a
   * shared slot move back to a slot of their own when one is free. False when a shard found no runner.
   */
  private async ensureRunners(): Promise<boolean> {
    const { gpu } = this.run.resources;
    if (this.unreleased.length > 0) await this.release([]);
    let changed = false;
    for (const shard of this.shards) {
      if (shard.handle !== null && !shard.handle.shared) continue;
      const holding = this.shards.filter((s) => s.handle && !s.handle.shared).map((s) => s.handle!.nodeID);
      // A shard in a shared slot only moves to a free slot of its own, never to another shared one.
      const handle = await this.pool.reserveOne(this.run.id, gpu, shard.handle ? [] : holding);
      if (handle === null) continue;
      const previous = shard.handle;
      shard.handle = handle;
      if (!(await this.initRunners([shard]))) {
        shard.handle = previous;
        continue;
      }
      if (previous) await this.release([previous]);
      // A shard that leaves a shared slot for one of its own was not lost: only a new runner counts.
      else this.options.metrics?.runnerReplaced();
      changed = true;
    }
    const missing = this.shards.some((s) => s.handle === null);
    const slots = this.slotsHeld();
    if ((changed || missing) && slots !== this.slotsWritten) {
      this.options.log?.info?.(
        { runId: this.run.id, slots, wanted: this.run.resources.runners },
        missing ? "the run waits for env runners" : "the run's env runners changed",
      );
      if (!(await this.db(() => this.store.setRunnersActive(this.run.id, slots)))) this.fenced = true;
      this.slotsWritten = slots;
    }
    return !missing && !this.fenced;
  }

  /** Initialises the shards' runners from their states; a runner that fails is dropped. */
  private async initRunners(shards: readonly Shard[]): Promise<boolean> {
    const { envsPerRunner } = this.run.resources;
    const settled = await Promise.allSettled(
      shards.map((s) =>
        this.pool.init(
          s.handle!,
          {
            envId: this.run.envId,
            config: this.run.config,
            numEnvs: envsPerRunner,
            index: s.index,
            ...(this.codeEnv ? { codeEnv: this.codeEnv } : {}),
          },
          s.state,
        ),
      ),
    );
    // The runners that did start are released by finish(), as the run fails.
    throwEnvFailure(settled);
    const failed = shards.filter((_, i) => settled[i]!.status === "rejected");
    for (const [i, r] of settled.entries()) {
      if (r.status === "rejected")
        this.options.log?.warn(
          { err: r.reason, runId: this.run.id, shard: shards[i]!.index },
          "runner init failed",
        );
    }
    await this.drop(failed);
    return failed.length === 0;
  }

  private async drop(shards: readonly Shard[]): Promise<void> {
    const handles = shards.map((s) => s.handle).filter((h): h is RunnerHandle => h !== null);
    for (const s of shards) s.handle = null;
    await this.release(handles);
  }

  /**
   * Releases runners; those on a node that did not answer (frozen, partitioned) are kept and released
   * again at the next iteration, so that a node that comes back does not keep their slots for the run.
   */
  private async release(handles: readonly RunnerHandle[]): Promise<void> {
    const all = [...this.unreleased, ...handles];
    this.unreleased = [];
    if (all.length === 0) return;
    const failed = await this.pool.release(this.run.id, all).catch(() => all);
    this.unreleased = [...failed];
  }

  /** Worker slots that serve the run (shards squeezed into a shared slot do not count). */
  private slotsHeld(): number {
    return this.shards.filter((s) => s.handle !== null && !s.handle.shared).length;
  }

  private async complete(): Promise<void> {
    if (!(await this.checkpoint())) return this.finish();
    const evaluation = await this.evaluate();
    const extra = evaluation ? { evaluation } : {};
    const moved = await this.move("running", "completed", extra);
    // A stop that raced the last iteration: the run is complete anyway, with its final checkpoint.
    if (!moved && (await this.db(() => this.store.status(this.run.id))) === "stopping")
      await this.move("stopping", "stopped", extra);
    return this.finish();
  }

  /**
   * The deterministic evaluation of the final policy (actors/evaluation.ts), recorded with the run's
   * end. It is a report, not part of training: an env that fails here leaves the run complete, without one.
   */
  private async evaluate(): Promise<RunEvaluation | null> {
    const episodes = this.options.evaluationEpisodes ?? 0;
    const learner = this.learner;
    if (episodes === 0 || learner === null) return null;
    try {
      // In the learner's thread, where the final policy is: a large network's forward passes hold no event loop.
      const result = await learner.evaluate(episodes, defaultEvaluationSeed(this.run.config), this.codeEnv);
      return { ...result, iteration: learner.iteration, globalStep: learner.globalStep };
    } catch (err) {
      if (err instanceof LearnerTerminatedError) return null;
      this.options.log?.warn({ err, runId: this.run.id }, "could not evaluate the run's final policy");
      return null;
    }
  }

  /** A stop: the last finished iteration is checkpointed, so that a resume continues from it. */
  private async settle(from: RunStatus, to: RunStatus): Promise<void> {
    if (!(await this.checkpoint())) return this.finish();
    await this.move(from, to);
    return this.finish();
  }

  /** Before a clean handover: what this activation finished is stored, so the next host redoes nothing. */
  protected override async handover(): Promise<void> {
    if (this.learner === null) return;
    try {
      if (this.unrecorded !== null) {
        const point = this.unrecorded;
        if ((await this.store.recordIteration(this.run.id, point, this.slotsHeld())) === null) return;
        this.unrecorded = null;
      }
      await this.checkpoint();
    } catch (err) {
      this.options.log?.warn({ err, runId: this.run.id }, "could not checkpoint before handing the run over");
    }
  }

  /** Checkpoints the last recorded iteration (when not done yet); false when the lease is gone. */
  private async checkpoint(): Promise<boolean> {
    const learner = this.learner;
    const states = this.shards.map((s) => s.state);
    if (!learner || this.unrecorded !== null || learner.iteration === this.lastCheckpoint) return true;
    if (states.some((s) => s === undefined)) return true;
    const runnerStates = states as RolloutCollectorState[];
    const bytes = await learner.checkpoint(runnerStates);
    const writing = performance.now();
    const saved = await this.db(() =>
      this.store.saveCheckpoint(this.run.id, {
        iteration: learner.iteration,
        globalStep: learner.globalStep,
        bytes,
        runnerStates,
      }),
    );
    if (saved) {
      this.lastCheckpoint = learner.iteration;
      this.options.metrics?.checkpointWritten((performance.now() - writing) / 1000);
    }
    return saved;
  }

  private async move(
    from: RunStatus,
    to: RunStatus,
    extra: { failureReason?: string; evaluation?: RunEvaluation } = {},
  ): Promise<boolean> {
    assertTransition(from, to);
    const moved = await this.db(() => this.store.transition(this.run.id, from, to, extra));
    if (moved) {
      this.status = to;
      this.events.statusChanged(this.run, to);
    }
    return moved;
  }

  private async fail(err: unknown): Promise<void> {
    const reason = describe(err);
    this.options.log?.error({ err, runId: this.run.id }, "training run failed");
    try {
      if (!this.fenced) {
        const stored = await this.store.status(this.run.id);
        if (stored !== null && !isTerminal(stored))
          await this.move(stored, "failed", { failureReason: reason });
      }
    } catch (writeErr) {
      this.options.log?.error({ err: writeErr, runId: this.run.id }, "could not record the run's failure");
    }
    await this.finish();
  }

  /** As the actor ends: runners released, the learner's thread ended. */
  protected override async cleanup(): Promise<void> {
    const handles = this.shards.map((s) => s.handle).filter((h): h is RunnerHandle => h !== null);
    this.shards = [];
    // What stays unreleased here is freed by its worker once the run has ended or moved (the
    // workers check their runners' runs in the database).
    await this.release(handles);
    await this.learner?.terminate();
    await this.starting?.terminate();
    this.learner = null;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
