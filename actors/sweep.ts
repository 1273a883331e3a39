import { ACTIVE_STATUSES, type RunStatus } from "../contracts/run-status.ts";
import type { RungRecord, SweepStatus, TrialLineage, TrialStatus } from "../contracts/sweep-status.ts";
import { deriveSeed, Rng } from "../rl/core/rng.ts";
import { AshaBracket, ashaRungs, better, type CurvePoint, valueAtRung } from "../sweeps/asha.ts";
import type { SweepDefinition } from "../sweeps/definition.ts";
import { nextGeneration, type PbtMember } from "../sweeps/pbt.ts";
import { ActorBase } from "./actor-base.ts";

/** The fixed part of a sweep, as its actor needs it. */
export interface SweepDescriptor {
  id: string;
  ownerId: string;
  definition: SweepDefinition;
}

export interface TrialRow {
  id: string;
  index: number;
  params: Record<string, unknown>;
  seed: number;
  totalSteps: number;
  runId: string;
  status: TrialStatus;
  rungs: RungRecord[];
  lastMetric: number | null;
  finalMetric: number | null;
  steps: number;
  iteration: number;
  member: number | null;
  generation: number | null;
  lineage: TrialLineage | null;
}

export interface TrialPatch {
  status?: TrialStatus;
  rungs?: RungRecord[];
  prunedRung?: number;
  prunedValue?: number | null;
  prunedCutoff?: number | null;
  lastMetric?: number | null;
  finalMetric?: number | null;
  steps?: number;
  iteration?: number;
  failureReason?: string | null;
  startedAt?: Date;
  finishedAt?: Date;
}

export interface NewTrial {
  index: number;
  params: Record<string, unknown>;
  seed: number;
  totalSteps: number;
  runId: string;
  member?: number;
  generation?: number;
  lineage?: TrialLineage;
}

export interface RunProgress {
  status: RunStatus;
  globalStep: number;
  iteration: number;
  failureReason: string | null;
}

/** The actor's view of the database; every write is fenced by the activation's lease (false: lost). */
export interface SweepStore {
  /** Renews the lease; the sweep's status, or null when the lease is no longer ours. */
  heartbeat(): Promise<SweepStatus | null>;
  trials(): Promise<TrialRow[]>;
  updateTrials(updates: readonly { id: string; patch: TrialPatch }[]): Promise<boolean>;
  insertTrials(trials: readonly NewTrial[]): Promise<boolean>;
  runs(runIds: readonly string[]): Promise<Map<string, RunProgress>>;
  /** The metric's points of a run after an iteration, in order. */
  curve(
    runId: string,
    metric: string,
    afterIteration: number,
  ): Promise<(CurvePoint & { iteration: number })[]>;
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
}

const TERMINAL_TRIAL: readonly TrialStatus[] = ["completed", "pruned", "stopped", "failed"];
const isActiveRun = (p: RunProgress | undefined) => p !== undefined && ACTIVE_STATUSES.includes(p.status);

/**
 * The Sweep actor: one sweep, one mailbox. Each `tick` reads the sweep and its trials from the
 * database (the source of truth: a missed broadcast loses nothing), follows the trials' runs and
 * curves, applies ASHA at each rung, decides PBT's next generation, and launches pending trials
 * within `maxConcurrent`. A trial's row, with its run's id, exists before its run: a re-activated
 * sweep finds either that run or none, so no trial is ever launched twice.
 */
export class SweepActor extends ActorBase {
  private bracket: AshaBracket | null = null;
  private rungs: number[] = [];
  /** Each trial's curve so far (its metric's points), loaded once per activation, then incrementally. */
  private readonly curves = new Map<string, (CurvePoint & { iteration: number })[]>();
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
    super(options.pollMs);
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

  /** One look at the trials; false once the actor has ended. */
  private async step(): Promise<boolean> {
    const def = this.sweep.definition;
    let trials = await this.store.trials();
    if (this.bracket === null && def.earlyStopping && def.method !== "pbt") {
      this.rungs = ashaRungs(def.earlyStopping, def.totalSteps);
      this.bracket = new AshaBracket(this.rungs, def.earlyStopping.reductionFactor, def.mode);
      for (const t of trials) for (const r of t.rungs) this.bracket.restore(r.rung, r.value);
    }
    const runs = await this.store.runs(trials.filter((t) => !this.settled.has(t.id)).map((t) => t.runId));
    const updates = new Map<string, TrialPatch>();
    const patch = (t: TrialRow, p: TrialPatch) => {
      updates.set(t.id, { ...updates.get(t.id), ...p });
      Object.assign(t, p);
    };
    const toStop: string[] = [];
    const arrivals: { trial: TrialRow; rung: number; value: number | null; at: number }[] = [];

    for (const t of trials) {
      const run = runs.get(t.runId);
      if (t.status === "pending") {
        // A run under the trial's id exists: the launch went through before a crash or a resume.
        if (run && run.status !== "stopped") patch(t, { status: "running", startedAt: new Date() });
        else continue;
      }
      if (t.status !== "running") {
        if (!isActiveRun(run)) {
          if (run && run.globalStep !== t.steps)
            patch(t, { steps: run.globalStep, iteration: run.iteration });
          this.settled.add(t.id);
        }
        continue;
      }
      if (!run) {
        patch(t, { status: "failed", failureReason: "its run was deleted", finishedAt: new Date() });
        continue;
      }
      const fresh = await this.follow(t);
      if (fresh.length > 0) {
        const last = latestValue(this.curves.get(t.id)!);
        patch(t, { lastMetric: last, steps: Math.max(run.globalStep, t.steps), iteration: run.iteration });
        if (this.bracket) {
          const curve = this.curves.get(t.id)!;
          for (const rung of this.rungs) {
            if (t.rungs.some((r) => r.rung === rung)) continue;
            const reached = valueAtRung(curve, rung);
            if (!reached) break;
            const at = curve.findIndex((p) => p.globalStep >= rung);
            arrivals.push({ trial: t, rung, value: reached.value, at });
            break; // one rung per look: a trial pruned at this rung never reaches the next
          }
        }
      }
      if (run.status === "completed" || run.status === "stopped" || run.status === "failed") {
        // Only a run that ended on its own or by its owner's hand gets here (a pruned one is `pruned`).
        const status: TrialStatus = run.status;
        patch(t, {
          status,
          finalMetric: latestValue(this.curves.get(t.id) ?? []),
          steps: run.globalStep,
          iteration: run.iteration,
          finishedAt: new Date(),
          ...(run.status === "failed" ? { failureReason: run.failureReason } : {}),
        });
      }
    }

    // ASHA, in the order the trials reached their rungs (by iteration at the rung, then by index).
    arrivals.sort((a, b) => a.rung - b.rung || a.at - b.at || a.trial.index - b.trial.index);
    for (const a of arrivals) {
      const d = this.bracket!.reach(a.rung, a.value);
      const record: RungRecord = {
        rung: a.rung,
        value: a.value,
        n: d.n,
        keep: d.keep,
        cutoff: d.cutoff,
        continued: d.continue,
      };
      patch(a.trial, { rungs: [...a.trial.rungs, record] });
      if (!d.continue && a.trial.status === "running") {
        patch(a.trial, {
          status: "pruned",
          prunedRung: a.rung,
          prunedValue: a.value,
          prunedCutoff: d.cutoff,
          finalMetric: a.trial.lastMetric,
          finishedAt: new Date(),
        });
        toStop.push(a.trial.runId);
      }
    }

    // Written before the runs are stopped: a crash in between re-stops them from the rows.
    if (!(await this.commit(trials, updates))) return false;
    for (const runId of toStop) await this.launcher.stop(this.sweep, runId);
    for (const t of trials) {
      if (t.status === "pruned" && isActiveRun(runs.get(t.runId)) && !toStop.includes(t.runId))
        await this.launcher.stop(this.sweep, t.runId);
    }

    if (def.method === "pbt") {
      const created = await this.pbtNext(trials);
      if (created === null) return false;
      if (created) trials = await this.store.trials();
    }

    // Launch within maxConcurrent: runs still active (a pruned one that is stopping included) count.
    const started = new Map<string, TrialPatch>();
    let active = trials.filter((t) => isActiveRun(runs.get(t.runId))).length;
    for (const t of trials) {
      if (t.status !== "pending" || active >= def.maxConcurrent) continue;
      const run = runs.get(t.runId);
      let result: LaunchResult;
      try {
        result = run ? await this.launcher.resume(this.sweep, t) : await this.launcher.launch(this.sweep, t);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.options.log?.warn(
          { err, sweepId: this.sweep.id, trial: t.index },
          "a trial could not be launched",
        );
        started.set(t.id, { status: "failed", failureReason: reason, finishedAt: new Date() });
        Object.assign(t, started.get(t.id));
        continue;
      }
      if (result === "throttled") break;
      active += 1;
      started.set(t.id, { status: "running", startedAt: new Date() });
      Object.assign(t, started.get(t.id));
      this.curves.delete(t.id);
      this.settled.delete(t.id);
    }
    if (!(await this.commit(trials, started))) return false;

    this.following = new Set(trials.filter((t) => !this.settled.has(t.id)).map((t) => t.runId));
    if (this.isDone(trials)) {
      await this.complete(trials);
      return false;
    }
    return true;
  }

  /** The trial's new points since the last look (all of them the first time in this activation). */
  private async follow(t: TrialRow): Promise<CurvePoint[]> {
    let curve = this.curves.get(t.id);
    if (!curve) {
      curve = [];
      this.curves.set(t.id, curve);
    }
    const after = curve.at(-1)?.iteration ?? 0;
    const fresh = await this.store.curve(t.runId, this.sweep.definition.metric, after);
    curve.push(...fresh);
    return fresh;
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

  private isDone(trials: readonly TrialRow[]): boolean {
    if (trials.some((t) => !TERMINAL_TRIAL.includes(t.status))) return false;
    const def = this.sweep.definition;
    if (def.method !== "pbt") return true;
    return this.currentGeneration(trials) >= this.generations() - 1;
  }

  private generations(): number {
    const def = this.sweep.definition;
    return Math.ceil(def.totalSteps / def.pbt!.perturbationInterval);
  }

  private currentGeneration(trials: readonly TrialRow[]): number {
    return trials.reduce((g, t) => Math.max(g, t.generation ?? 0), 0);
  }

  /**
   * PBT: once every member of the current generation has ended, the next generation's trials are
   * written (idempotently: same indices, same decision from the same stored results and seed).
   * True when trials were written, false when none were due, null when the lease was lost.
   */
  private async pbtNext(trials: readonly TrialRow[]): Promise<boolean | null> {
    const def = this.sweep.definition;
    const g = this.currentGeneration(trials);
    if (g >= this.generations() - 1) return false;
    const current = trials.filter((t) => (t.generation ?? 0) === g);
    if (current.some((t) => !TERMINAL_TRIAL.includes(t.status))) return false;
    const runs = await this.store.runs(current.map((t) => t.runId));
    const members: PbtMember[] = current.map((t) => ({
      member: t.member ?? t.index,
      trialId: t.id,
      runId: t.runId,
      iteration: t.status === "completed" ? (runs.get(t.runId)?.iteration ?? null) : null,
      params: t.params,
      value: t.finalMetric,
    }));
    if (members.every((m) => m.iteration === null)) {
      await this.store.finish("failed", null, `every member of PBT generation ${g} failed`);
      this.events.status(this.sweep, "failed");
      await this.finish();
      return null;
    }
    const rng = new Rng(deriveSeed(def.seed, g + 1));
    const next = nextGeneration(
      members,
      def.searchSpace,
      { quantile: def.pbt!.quantile, resampleProbability: def.pbt!.resampleProbability, mode: def.mode },
      rng,
    );
    const population = current.length;
    const totalSteps = Math.min(def.totalSteps, (g + 2) * def.pbt!.perturbationInterval);
    const rows: NewTrial[] = next.map((n) => ({
      index: (g + 1) * population + n.member,
      params: n.params,
      seed: def.seeds[0]!,
      totalSteps,
      runId: this.options.newRunId(),
      member: n.member,
      generation: g + 1,
      lineage: {
        parentTrialId: n.parentTrialId,
        initFrom: n.initFrom,
        exploited: n.exploited,
        perturbations: n.perturbations,
      },
    }));
    if (!(await this.store.insertTrials(rows))) {
      await this.finish();
      return null;
    }
    return true;
  }

  /** The sweep is done: the best trial by its final metric (PBT: of the last generation). */
  private async complete(trials: readonly TrialRow[]): Promise<void> {
    const def = this.sweep.definition;
    let pool = trials.filter((t) => t.status === "completed");
    if (def.method === "pbt") {
      const g = this.currentGeneration(trials);
      pool = pool.filter((t) => t.generation === g);
    }
    if (pool.length === 0) pool = trials.filter((t) => t.finalMetric !== null);
    let best: TrialRow | null = null;
    for (const t of pool) if (best === null || better(t.finalMetric, best.finalMetric, def.mode)) best = t;
    const failed = trials.every((t) => t.status === "failed");
    const status = failed ? "failed" : "completed";
    if (
      await this.store.finish(
        status,
        best && { trialId: best.id, metric: best.finalMetric },
        failed ? "every trial failed" : undefined,
      )
    ) {
      this.events.status(this.sweep, status);
    }
    await this.finish();
  }

  /** A stop request: every trial's run is stopped, the trials are marked stopped, then the sweep. */
  private async stopAll(): Promise<void> {
    const trials = await this.store.trials();
    const runs = await this.store.runs(trials.map((t) => t.runId));
    const updates = new Map<string, TrialPatch>();
    for (const t of trials) {
      const run = runs.get(t.runId);
      if (isActiveRun(run)) await this.launcher.stop(this.sweep, t.runId);
      if (t.status === "running" || t.status === "pending") {
        updates.set(t.id, {
          status: "stopped",
          finalMetric: t.lastMetric,
          ...(run ? { steps: run.globalStep, iteration: run.iteration } : {}),
        });
        Object.assign(t, updates.get(t.id));
      }
    }
    if (!(await this.commit(trials, updates))) return;
    if (await this.store.finish("stopped", null)) this.events.status(this.sweep, "stopped");
    await this.finish();
  }
}

/** The latest non-missing value of a curve. */
function latestValue(curve: readonly CurvePoint[]): number | null {
  for (let i = curve.length - 1; i >= 0; i--) if (curve[i]!.value !== null) return curve[i]!.value;
  return null;
}
