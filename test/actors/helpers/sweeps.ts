import type {
  LaunchResult,
  NewTrial,
  RunProgress,
  SweepDescriptor,
  SweepEvents,
  SweepStore,
  TrialLauncher,
  TrialPatch,
  TrialRow,
} from "../../../actors/sweep.ts";
import { ACTIVE_SWEEP_STATUSES, type SweepStatus } from "../../../contracts/sweep-status.ts";
import type { TrialPoint } from "../../../sweeps/decide.ts";
import type { SweepDefinition } from "../../../sweeps/definition.ts";
import { expandTrials } from "../../../sweeps/trials.ts";

/**
 * The trials' runs as the runs service would keep them, in memory: created and resumed by the
 * launcher, stopped by it (running → stopping), and moved on by the test, which plays each run's
 * actor (an iteration's metric point, its end).
 */
export class MemoryRuns {
  readonly rows = new Map<string, RunProgress & { points: TrialPoint[]; params: Record<string, unknown> }>();

  constructor(
    readonly stepsPerIteration: number,
    readonly metric = "charts/episodic_return",
  ) {}

  /** The run's next iteration, with its metric value. */
  report(runId: string, value: number | null): void {
    const run = this.get(runId);
    run.iteration += 1;
    run.globalStep += this.stepsPerIteration;
    run.points.push({ iteration: run.iteration, globalStep: run.globalStep, value });
  }

  /** The run ends: completed, or stopped (a stop it was asked for has settled), or failed. */
  end(runId: string, status: "completed" | "stopped" | "failed", failureReason: string | null = null): void {
    Object.assign(this.get(runId), { status, failureReason });
  }

  /** Every run that was asked to stop has stopped. */
  settleStops(): void {
    for (const run of this.rows.values()) if (run.status === "stopping") run.status = "stopped";
  }

  get(runId: string) {
    const run = this.rows.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    return run;
  }
}

/**
 * A sweep's row and its trials' rows in memory, with the rules of services/sweeps/store.ts: every
 * write is refused once the activation's lease is lost (`loseLease`), trials are inserted once per
 * index, and the sweep ends only while it is active. Each accepted write is logged.
 */
export class MemorySweepStore implements SweepStore {
  status: SweepStatus = "running";
  leaseLost = false;
  best: { trialId: string; metric: number | null } | null = null;
  failureReason: string | null = null;
  readonly trialRows: TrialRow[] = [];
  readonly writes: string[] = [];

  constructor(
    readonly definition: SweepDefinition,
    readonly table: MemoryRuns,
    newRunId: () => string,
  ) {
    for (const t of expandTrials(definition)) {
      this.trialRows.push(
        row({
          index: t.index,
          params: t.params,
          seed: t.seed,
          totalSteps: t.totalSteps,
          runId: newRunId(),
          ...(t.member === undefined ? {} : { member: t.member, generation: t.generation! }),
        }),
      );
    }
  }

  trial(index: number): TrialRow {
    const t = this.trialRows.find((x) => x.index === index);
    if (!t) throw new Error(`no trial ${index}`);
    return t;
  }

  async heartbeat(): Promise<SweepStatus | null> {
    return this.leaseLost ? null : this.status;
  }

  async trials(): Promise<TrialRow[]> {
    return structuredClone(this.trialRows).sort((a, b) => a.index - b.index);
  }

  async updateTrials(updates: readonly { id: string; patch: TrialPatch }[]): Promise<boolean> {
    if (this.leaseLost) return false;
    for (const { id, patch } of updates) {
      const t = this.trialRows.find((x) => x.id === id)!;
      // Only the row's own columns (the pruned-at and time columns are not part of a TrialRow).
      for (const key of Object.keys(patch) as (keyof TrialPatch)[])
        if (key in t) Object.assign(t, { [key]: structuredClone(patch[key]) });
      this.writes.push(`trial ${t.index}: ${Object.keys(patch).join(", ")}`);
    }
    return true;
  }

  async insertTrials(trials: readonly NewTrial[]): Promise<boolean> {
    if (this.leaseLost) return false;
    for (const t of trials) {
      if (this.trialRows.some((x) => x.index === t.index)) continue;
      this.trialRows.push(row(structuredClone(t)));
      this.writes.push(`insert trial ${t.index}`);
    }
    return true;
  }

  async runs(runIds: readonly string[]): Promise<Map<string, RunProgress>> {
    const out = new Map<string, RunProgress>();
    for (const id of runIds) {
      const run = this.table.rows.get(id);
      if (run)
        out.set(id, {
          status: run.status,
          globalStep: run.globalStep,
          iteration: run.iteration,
          failureReason: run.failureReason,
        });
    }
    return out;
  }

  async curve(runId: string, _metric: string, afterIteration: number): Promise<TrialPoint[]> {
    const run = this.table.rows.get(runId);
    return (run?.points ?? []).filter((p) => p.iteration > afterIteration).map((p) => ({ ...p }));
  }

  async finish(
    status: "completed" | "stopped" | "failed",
    best: { trialId: string; metric: number | null } | null,
    failureReason?: string,
  ): Promise<boolean> {
    if (this.leaseLost || !ACTIVE_SWEEP_STATUSES.includes(this.status)) return false;
    Object.assign(this, { status, best, failureReason: failureReason ?? null });
    this.writes.push(`sweep ${status}`);
    return true;
  }
}

function row(t: NewTrial): TrialRow {
  return {
    id: `trial-${t.index}`,
    index: t.index,
    params: t.params,
    seed: t.seed,
    totalSteps: t.totalSteps,
    runId: t.runId,
    status: "pending",
    rungs: [],
    lastMetric: null,
    finalMetric: null,
    steps: 0,
    iteration: 0,
    member: t.member ?? null,
    generation: t.generation ?? null,
    lineage: t.lineage ?? null,
  };
}

/**
 * Trials' runs created, resumed and stopped in `MemoryRuns`, as services/sweeps/launcher.ts does
 * through the runs service; `quota` runs at most may be active at once (a full quota throttles).
 */
export class MemoryLauncher implements TrialLauncher {
  readonly launched: TrialRow[] = [];
  readonly stopped: string[] = [];

  constructor(
    private readonly runs: MemoryRuns,
    private readonly quota = Number.POSITIVE_INFINITY,
  ) {}

  private full(): boolean {
    const active = [...this.runs.rows.values()].filter(
      (r) => r.status === "running" || r.status === "stopping",
    );
    return active.length >= this.quota;
  }

  async launch(_sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult> {
    if (this.full()) return "throttled";
    if (this.runs.rows.has(trial.runId)) throw new Error(`run ${trial.runId} created twice`);
    this.runs.rows.set(trial.runId, {
      status: "running",
      globalStep: 0,
      iteration: 0,
      failureReason: null,
      points: [],
      params: trial.params,
    });
    this.launched.push(structuredClone(trial));
    return "launched";
  }

  async resume(_sweep: SweepDescriptor, trial: TrialRow): Promise<LaunchResult> {
    if (this.full()) return "throttled";
    this.runs.get(trial.runId).status = "running";
    this.launched.push(structuredClone(trial));
    return "launched";
  }

  async stop(_sweep: SweepDescriptor, runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (run.status === "running" || run.status === "queued") run.status = "stopping";
    this.stopped.push(runId);
  }
}

/** The events a sweep's actor sent, in order. */
export class RecordedSweepEvents implements SweepEvents {
  readonly log: string[] = [];

  trial(_sweep: SweepDescriptor, trial: TrialRow): void {
    this.log.push(`trial ${trial.index} ${trial.status}`);
  }

  status(_sweep: SweepDescriptor, status: SweepStatus): void {
    this.log.push(`sweep ${status}`);
  }
}
