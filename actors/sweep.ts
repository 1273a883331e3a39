import type { SweepStatus } from "../contracts/sweep-status.ts";
import {
  decideGeneration,
  decideLook,
  decideOutcome,
  decideStopAll,
  isFollowed,
  type NewTrial,
  pbtDue,
  planLaunches,
  type RunProgress,
  type SweepObservation,
  type SweepOutcome,
  type TrialPatch,
  type TrialPoint,
  type TrialRow,
} from "../sweeps/decide.ts";
import type { SweepDefinition } from "../sweeps/definition.ts";
import { ActorBase } from "./actor-base.ts";
import type { Clock } from "./clock.ts";

/** The fixed part of a sweep, as its actor needs it. */
export interface SweepDescriptor {
  id: string;
  ownerId: string;
  definition: SweepDefinition;
}

// The rows and patches the actor reads and writes are the pure layer's (sweeps/decide.ts).
export type { NewTrial, RunProgress, TrialPatch, TrialRow } from "../sweeps/decide.ts";

/** The actor's view of the database; every write is fenced by the activation's lease (false: lost). */
export interface SweepStore {
  /** Renews the lease; the sweep's status, or null when the lease is no longer ours. */
  heartbeat(): Promise<SweepStatus | null>;
  trials(): Promise<TrialRow[]>;
  updateTrials(updates: readonly { id: string; patch: TrialPatch }[]): Promise<boolean>;
  insertTrials(trials: readonly NewTrial[]): Promise<boolean>;
  runs(runIds: readonly string[]): Promise<Map<string, RunProgress>>;
  /** The metric's points of a run after an iteration, in order. */
  curve(runId: string, metric: string, afterIteration: number): Promise<TrialPoint[]>;
  finish(
    status: "completed" | "stopped" | "failed",
    best: { trialId: string; metric: number | null } | null,
    failureReason?: string,
  ): Promise<boolean>;
}

/** What a trial's run needs beyond its row: created and controlled through the runs service. */
export type LaunchResult = "launched" | "throttled";

export interface TrialLauncher {
  /** Creates the trial's run under its pre-chosen id; "throttled": not now (quota full, no runs node). */
  launch(sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult>;
  /** Resumes the trial's stopped run. */
  resume(sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult>;
  stop(sweep: SweepDescriptor, runId: string): Promise<void>;
}

/** A trial's status or latest metric changed (for the WebSocket); the sweep's status changed. */
export interface SweepEvents {
  trial(sweep: SweepDescriptor, trial: TrialRow): void;
  status(sweep: SweepDescriptor, status: SweepStatus): void;
}

export interface SweepActorOptions {
  /** How often the actor looks at its trials when nothing wakes it. */
  pollMs: number;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** A new run id for a trial row (randomUUID in production). */
  newRunId: () => string;
  /** The time of its writes and the timer of its polls; the process's by default (a test's in unit tests). */
  clock?: Clock;
}

/**
 * The Sweep actor: one sweep, one mailbox. Each `tick` is one look: it observes the sweep's trials,
 * their runs and their curves in the database (the source of truth: a missed broadcast loses
 * nothing), decides (sweeps/decide.ts, pure: the trials' progress, ASHA at each rung, PBT's next
 * generation, which trials may start, whether the sweep is done), commits what it decided, then
 * stops and launches runs. A trial's row, with its run's id, exists before its run: a re-activated
 * sweep finds either that run or none, so no trial is ever launched twice.
 */
export class SweepActor extends ActorBase {
  /** Each trial's curve so far (its metric's points), loaded once per activation, then incrementally. */
  private readonly curves = new Map<string, TrialPoint[]>();
  /** Trials whose run is known to have ended after the trial did: nothing more to follow. */
  private readonly settled = new Set<string>();
  /** The runs of the trials this sweep follows now (to be woken when one of them changes status). */
  private following = new Set<string>();

  constructor(
    readonly sweep: SweepDescriptor,
    private readonly store: SweepStore,
    private readonly launcher: TrialLauncher,
    private readonly events: SweepEvents,
    private readonly options: SweepActorOptions,
  ) {
    // Between looks (and after a look that failed) the actor waits a poll; `wake` cuts that short.
    super(options.pollMs, options.clock);
  }

  watches(runId: string): boolean {
    return this.following.has(runId);
  }

  /** One look; each renews the lease (the heartbeat), and a lost lease ends the actor. */
  protected override async tick(): Promise<void> {
    const status = await this.store.heartbeat();
    if (status === null || (status !== "running" && status !== "stopping")) return this.finish();
    if (status === "stopping") return this.stopAll();
    if (await this.step()) this.tickLater();
  }

  protected override onError(err: unknown): void {
    this.options.log?.error({ err, sweepId: this.sweep.id }, "sweep tick failed; retrying");
    this.tickLater();
  }

  /** One look at the trials: observe → decide → commit → launch; false once the actor has ended. */
  private async step(): Promise<boolean> {
    const def = this.sweep.definition;
    const observation = await this.observe();
    const look = decideLook(def, observation);
    for (const id of look.settled) this.settled.add(id);
    // Written before the runs are stopped: a crash in between re-stops them from the rows.
    if (!(await this.commit(look.trials, look.updates))) return false;
    for (const runId of look.stop) await this.launcher.stop(this.sweep, runId);

    let trials = look.trials;
    if (def.method === "pbt") {
      const created = await this.pbtNext(trials);
      if (created === null) return false;
      if (created) trials = await this.store.trials();
    }
    if (!(await this.launch(trials, observation.runs))) return false;

    this.following = new Set(trials.filter((t) => !this.settled.has(t.id)).map((t) => t.runId));
    const outcome = decideOutcome(def, trials);
    if (outcome) {
      await this.complete(outcome);
      return false;
    }
    return true;
  }

  /**
   * What a look decides from: the trials, the runs of those not settled, and the new points of the
   * curves it follows (all of a curve the first time in this activation).
   */
  private async observe(): Promise<SweepObservation> {
    const trials = await this.store.trials();
    const runs = await this.store.runs(trials.filter((t) => !this.settled.has(t.id)).map((t) => t.runId));
    const curves = new Map<string, { points: TrialPoint[]; fresh: number }>();
    for (const t of trials) {
      if (!isFollowed(t, runs.get(t.runId))) continue;
      let points = this.curves.get(t.id);
      if (!points) {
        points = [];
        this.curves.set(t.id, points);
      }
      const after = points.at(-1)?.iteration ?? 0;
      const fresh = await this.store.curve(t.runId, this.sweep.definition.metric, after);
      points.push(...fresh);
      curves.set(t.id, { points, fresh: fresh.length });
    }
    return { trials, runs, curves, now: this.now() };
  }

  /**
   * PBT: once every member of the current generation has ended, the next generation's trials are
   * written (idempotently: same indices, same decision from the same stored results and seed).
   * True when trials were written, false when none were due, null when the actor has ended (the lease
   * was lost, or every member failed and so did the sweep).
   */
  private async pbtNext(trials: readonly TrialRow[]): Promise<boolean | null> {
    const members = pbtDue(this.sweep.definition, trials);
    if (members === null) return false;
    const runs = await this.store.runs(members.map((t) => t.runId));
    const next = decideGeneration(this.sweep.definition, members, runs);
    if (next.kind === "failed") {
      await this.store.finish("failed", null, next.reason);
      this.events.status(this.sweep, "failed");
      await this.finish();
      return null;
    }
    const rows: NewTrial[] = next.trials.map((t) => ({ ...t, runId: this.options.newRunId() }));
    if (!(await this.store.insertTrials(rows))) {
      await this.finish();
      return null;
    }
    return true;
  }

  /**
   * Launches pending trials within `maxConcurrent`, in index order: a throttled launch (quota full,
   * no runs node) ends this look's launches; one that fails fails its trial and leaves its slot to
   * the next. False when the lease was lost.
   */
  private async launch(
    trials: readonly TrialRow[],
    runs: ReadonlyMap<string, RunProgress>,
  ): Promise<boolean> {
    const plan = planLaunches(this.sweep.definition, trials, runs);
    const started = new Map<string, TrialPatch>();
    let launched = 0;
    for (const { trial: t, resume } of plan.queue) {
      if (launched >= plan.slots) break;
      let result: LaunchResult;
      try {
        result = resume
          ? await this.launcher.resume(this.sweep, t)
          : await this.launcher.launch(this.sweep, t);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.options.log?.warn(
          { err, sweepId: this.sweep.id, trial: t.index },
          "a trial could not be launched",
        );
        started.set(t.id, { status: "failed", failureReason: reason, finishedAt: this.now() });
        Object.assign(t, started.get(t.id));
        continue;
      }
      if (result === "throttled") break;
      launched += 1;
      started.set(t.id, { status: "running", startedAt: this.now() });
      Object.assign(t, started.get(t.id));
      this.curves.delete(t.id);
      this.settled.delete(t.id);
    }
    return this.commit(trials, started);
  }

  private async commit(trials: readonly TrialRow[], updates: Map<string, TrialPatch>): Promise<boolean> {
    if (updates.size === 0) return true;
    const ok = await this.store.updateTrials([...updates].map(([id, patch]) => ({ id, patch })));
    if (!ok) {
      await this.finish();
      return false;
    }
    for (const t of trials) if (updates.has(t.id)) this.events.trial(this.sweep, t);
    return true;
  }

  /** The sweep is done: its end is written with its best trial. */
  private async complete(outcome: SweepOutcome): Promise<void> {
    if (await this.store.finish(outcome.status, outcome.best, outcome.failureReason))
      this.events.status(this.sweep, outcome.status);
    await this.finish();
  }

  /** A stop request: every trial's run is stopped, the trials are marked stopped, then the sweep. */
  private async stopAll(): Promise<void> {
    const trials = await this.store.trials();
    const runs = await this.store.runs(trials.map((t) => t.runId));
    const decision = decideStopAll(trials, runs);
    for (const runId of decision.stop) await this.launcher.stop(this.sweep, runId);
    if (!(await this.commit(decision.trials, decision.updates))) return;
    if (await this.store.finish("stopped", null)) this.events.status(this.sweep, "stopped");
    await this.finish();
  }

  private now(): Date {
    return new Date(this.clock.now());
  }
}
