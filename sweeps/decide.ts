/**
 * What a sweep's actor decides at each look, as pure functions of the sweep's definition and what it
 * observed (its trials' rows, their runs, their curves, the time). The actor (actors/sweep.ts)
 * observes, calls these, writes what they decided, then launches: observe → decide → commit → launch.
 *
 * The state the decisions read is all in the rows: ASHA's recorded values at each rung are the
 * trials' stored rung records (the order of earlier arrivals does not change a later decision, only
 * their values count), and PBT's next generation is a function of the last one's stored results and
 * the sweep's seed. So a re-activated sweep decides what the first activation would have.
 */
import { ACTIVE_STATUSES, type RunStatus } from "../contracts/run-status.ts";
import type { RungRecord, TrialLineage, TrialStatus } from "../contracts/sweep-status.ts";
import { deriveSeed, Rng } from "../rl/core/rng.ts";
import { AshaBracket, ashaRungs, better, type CurvePoint, valueAtRung } from "./asha.ts";
import type { SweepDefinition } from "./definition.ts";
import { nextGeneration, type PbtMember } from "./pbt.ts";

/** A trial's row, as the sweep's store reads it. */
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

/** The columns of a trial's row that a decision changes. */
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

/** A trial to insert (PBT's next generation); its run's id is chosen before its run exists. */
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

/** A trial's run as the sweep follows it. */
export interface RunProgress {
  status: RunStatus;
  globalStep: number;
  iteration: number;
  failureReason: string | null;
}

/** A stored point of a trial's curve: its metric at an iteration. */
export type TrialPoint = CurvePoint & { iteration: number };

export const TERMINAL_TRIAL: readonly TrialStatus[] = ["completed", "pruned", "stopped", "failed"];

export const isActiveRun = (p: RunProgress | undefined): boolean =>
  p !== undefined && ACTIVE_STATUSES.includes(p.status);

/**
 * Whether a look follows the trial's curve: it runs, or it is pending with its run already there
 * (the launch went through before a crash, or a resume), which makes it running.
 */
export const isFollowed = (t: TrialRow, run: RunProgress | undefined): boolean =>
  run !== undefined && (t.status === "running" || (t.status === "pending" && run.status !== "stopped"));

/** What one look saw. */
export interface SweepObservation {
  trials: readonly TrialRow[];
  /** The runs of the trials not yet settled (a settled trial's run is not read again). */
  runs: ReadonlyMap<string, RunProgress>;
  /**
   * Each followed trial's curve: every point since its launch (or since the actor's activation), and
   * how many of them are new since the last look.
   */
  curves: ReadonlyMap<string, { points: readonly TrialPoint[]; fresh: number }>;
  now: Date;
}

/** ASHA's verdict on a trial that reached a rung. */
export interface RungVerdict {
  trialId: string;
  index: number;
  record: RungRecord;
  /** The verdict stops the trial: it is pruned, and its run is stopped. */
  pruned: boolean;
}

/** What a look decided. */
export interface LookDecision {
  /** The trials as the decisions leave them (copies; the observation is not changed). */
  trials: TrialRow[];
  /** Each changed trial's patch, to write before anything else is done. */
  updates: Map<string, TrialPatch>;
  /** ASHA's verdicts, in the order the trials reached their rungs. */
  verdicts: RungVerdict[];
  /** Runs to stop once the updates are written: the trials pruned now, then pruned ones still running. */
  stop: string[];
  /** Trials whose run has ended after them: nothing more to follow. */
  settled: string[];
}

/** The rungs of a sweep that stops early by ASHA ([] for one that does not). */
export function sweepRungs(def: SweepDefinition): number[] {
  return def.earlyStopping && def.method !== "pbt" ? ashaRungs(def.earlyStopping, def.totalSteps) : [];
}

/**
 * One look: each trial follows its run (pending → running once its run exists; its latest metric and
 * steps; its end when its run ended; failed when its run was deleted), then ASHA judges the trials
 * that reached a rung since the last look, in the order they reached it (by the iteration at the rung,
 * then by index), each against the values recorded at that rung before it.
 */
export function decideLook(def: SweepDefinition, obs: SweepObservation): LookDecision {
  const trials = obs.trials.map((t) => ({ ...t }));
  const updates = new Map<string, TrialPatch>();
  const patch = (t: TrialRow, p: TrialPatch) => {
    updates.set(t.id, { ...updates.get(t.id), ...p });
    Object.assign(t, p);
  };
  const settled: string[] = [];
  const rungs = sweepRungs(def);
  const arrivals: { trial: TrialRow; rung: number; value: number | null; at: number }[] = [];

  for (const t of trials) {
    const run = obs.runs.get(t.runId);
    if (t.status === "pending") {
      if (isFollowed(t, run)) patch(t, { status: "running", startedAt: obs.now });
      else continue;
    }
    if (t.status !== "running") {
      if (!isActiveRun(run)) {
        if (run && run.globalStep !== t.steps) patch(t, { steps: run.globalStep, iteration: run.iteration });
        settled.push(t.id);
      }
      continue;
    }
    if (!run) {
      patch(t, { status: "failed", failureReason: "its run was deleted", finishedAt: obs.now });
      continue;
    }
    const curve = obs.curves.get(t.id);
    const points = curve?.points ?? [];
    if (curve && curve.fresh > 0) {
      patch(t, {
        lastMetric: latestValue(points),
        steps: Math.max(run.globalStep, t.steps),
        iteration: run.iteration,
      });
      const arrival = nextRung(t, points, rungs);
      if (arrival) arrivals.push({ trial: t, ...arrival });
    }
    if (run.status === "completed" || run.status === "stopped" || run.status === "failed") {
      // Only a run that ended on its own or by its owner's hand gets here (a pruned one is `pruned`).
      patch(t, {
        status: run.status,
        finalMetric: latestValue(points),
        steps: run.globalStep,
        iteration: run.iteration,
        finishedAt: obs.now,
        ...(run.status === "failed" ? { failureReason: run.failureReason } : {}),
      });
    }
  }

  const verdicts: RungVerdict[] = [];
  const stop: string[] = [];
  if (rungs.length > 0) {
    const bracket = new AshaBracket(rungs, def.earlyStopping!.reductionFactor, def.mode);
    for (const t of obs.trials) for (const r of t.rungs) bracket.restore(r.rung, r.value);
    arrivals.sort((a, b) => a.rung - b.rung || a.at - b.at || a.trial.index - b.trial.index);
    for (const a of arrivals) {
      const d = bracket.reach(a.rung, a.value);
      const record: RungRecord = {
        rung: a.rung,
        value: a.value,
        n: d.n,
        keep: d.keep,
        cutoff: d.cutoff,
        continued: d.continue,
      };
      patch(a.trial, { rungs: [...a.trial.rungs, record] });
      const pruned = !d.continue && a.trial.status === "running";
      if (pruned) {
        patch(a.trial, {
          status: "pruned",
          prunedRung: a.rung,
          prunedValue: a.value,
          prunedCutoff: d.cutoff,
          finalMetric: a.trial.lastMetric,
          finishedAt: obs.now,
        });
        stop.push(a.trial.runId);
      }
      verdicts.push({ trialId: a.trial.id, index: a.trial.index, record, pruned });
    }
  }
  // A trial pruned before (by this activation or the one before it) whose run still runs.
  for (const t of trials) {
    if (t.status === "pruned" && isActiveRun(obs.runs.get(t.runId)) && !stop.includes(t.runId))
      stop.push(t.runId);
  }
  return { trials, updates, verdicts, stop, settled };
}

/**
 * The first rung the trial has not been judged at, if its curve has reached it: one rung per look,
 * so that a trial pruned at a rung never reaches the next. `at` is the index of the curve's first
 * point at the rung (the trials' order of arrival).
 */
function nextRung(
  t: TrialRow,
  points: readonly TrialPoint[],
  rungs: readonly number[],
): { rung: number; value: number | null; at: number } | null {
  for (const rung of rungs) {
    if (t.rungs.some((r) => r.rung === rung)) continue;
    const reached = valueAtRung(points, rung);
    if (!reached) return null;
    return { rung, value: reached.value, at: points.findIndex((p) => p.globalStep >= rung) };
  }
  return null;
}

/** How many generations (segments) a PBT sweep has. */
export function pbtGenerations(def: SweepDefinition): number {
  return Math.ceil(def.totalSteps / def.pbt!.perturbationInterval);
}

/** The latest generation among the trials (0 for a sweep without generations). */
export function currentGeneration(trials: readonly TrialRow[]): number {
  return trials.reduce((g, t) => Math.max(g, t.generation ?? 0), 0);
}

/**
 * PBT: the members of the latest generation when every one of them has ended and another generation
 * is due; null otherwise (a member still runs, or the last generation has been reached).
 */
export function pbtDue(def: SweepDefinition, trials: readonly TrialRow[]): TrialRow[] | null {
  const g = currentGeneration(trials);
  if (g >= pbtGenerations(def) - 1) return null;
  const members = trials.filter((t) => (t.generation ?? 0) === g);
  return members.some((t) => !TERMINAL_TRIAL.includes(t.status)) ? null : members;
}

/** PBT's decision once a generation has ended: the next generation's trials, or the sweep fails. */
export type GenerationDecision =
  | { kind: "next"; trials: Omit<NewTrial, "runId">[] }
  | { kind: "failed"; reason: string };

/**
 * The next generation from the members of the one that ended (`pbtDue`) and their runs: each member
 * continues from its own checkpoint, or exploits a member of the top quantile and explores from its
 * hyperparameters (sweeps/pbt.ts). Its trials' indices follow the generation's (member m of
 * generation g+1 is trial (g+1)·population + m), so that writing them again writes nothing new; its
 * draws come from the sweep's seed and the generation, so that deciding again decides the same.
 */
export function decideGeneration(
  def: SweepDefinition,
  members: readonly TrialRow[],
  runs: ReadonlyMap<string, RunProgress>,
): GenerationDecision {
  const g = currentGeneration(members);
  const pbtMembers: PbtMember[] = members.map((t) => ({
    member: t.member ?? t.index,
    trialId: t.id,
    runId: t.runId,
    iteration: t.status === "completed" ? (runs.get(t.runId)?.iteration ?? null) : null,
    params: t.params,
    value: t.finalMetric,
  }));
  if (pbtMembers.every((m) => m.iteration === null))
    return { kind: "failed", reason: `every member of PBT generation ${g} failed` };
  const pbt = def.pbt!;
  const next = nextGeneration(
    pbtMembers,
    def.searchSpace,
    { quantile: pbt.quantile, resampleProbability: pbt.resampleProbability, mode: def.mode },
    new Rng(deriveSeed(def.seed, g + 1)),
  );
  const population = members.length;
  const totalSteps = Math.min(def.totalSteps, (g + 2) * pbt.perturbationInterval);
  return {
    kind: "next",
    trials: next.map((n) => ({
      index: (g + 1) * population + n.member,
      params: n.params,
      seed: def.seeds[0]!,
      totalSteps,
      member: n.member,
      generation: g + 1,
      lineage: {
        parentTrialId: n.parentTrialId,
        initFrom: n.initFrom,
        exploited: n.exploited,
        perturbations: n.perturbations,
      },
    })),
  };
}

/** What to launch: the pending trials in index order, and how many may start now. */
export interface LaunchPlan {
  /** `maxConcurrent` less the runs still active (a pruned one that is stopping included). */
  slots: number;
  /** Pending trials in order; `resume`: its run exists (stopped), so it is resumed, not created. */
  queue: { trial: TrialRow; resume: boolean }[];
}

export function planLaunches(
  def: SweepDefinition,
  trials: readonly TrialRow[],
  runs: ReadonlyMap<string, RunProgress>,
): LaunchPlan {
  const active = trials.filter((t) => isActiveRun(runs.get(t.runId))).length;
  return {
    slots: Math.max(0, def.maxConcurrent - active),
    queue: trials
      .filter((t) => t.status === "pending")
      .map((trial) => ({ trial, resume: runs.has(trial.runId) })),
  };
}

/** How a sweep ends, once it is done. */
export interface SweepOutcome {
  status: "completed" | "failed";
  best: { trialId: string; metric: number | null } | null;
  failureReason?: string;
}

/**
 * The sweep is done when every trial has ended (PBT: in the last generation). It completes with the
 * best trial by its final metric among the completed ones (PBT: of the last generation), else among
 * those with a final metric; it fails when every trial failed. Null while it is not done.
 */
export function decideOutcome(def: SweepDefinition, trials: readonly TrialRow[]): SweepOutcome | null {
  if (trials.some((t) => !TERMINAL_TRIAL.includes(t.status))) return null;
  const pbt = def.method === "pbt";
  const g = currentGeneration(trials);
  if (pbt && g < pbtGenerations(def) - 1) return null;
  let pool = trials.filter((t) => t.status === "completed" && (!pbt || t.generation === g));
  if (pool.length === 0) pool = trials.filter((t) => t.finalMetric !== null);
  let best: TrialRow | null = null;
  for (const t of pool) if (best === null || better(t.finalMetric, best.finalMetric, def.mode)) best = t;
  const failed = trials.every((t) => t.status === "failed");
  return {
    status: failed ? "failed" : "completed",
    best: best && { trialId: best.id, metric: best.finalMetric },
    ...(failed ? { failureReason: "every trial failed" } : {}),
  };
}

/** A stop request: every active run is stopped, and every trial not yet ended is marked stopped. */
export function decideStopAll(
  trials: readonly TrialRow[],
  runs: ReadonlyMap<string, RunProgress>,
): { trials: TrialRow[]; updates: Map<string, TrialPatch>; stop: string[] } {
  const out = trials.map((t) => ({ ...t }));
  const updates = new Map<string, TrialPatch>();
  const stop: string[] = [];
  for (const t of out) {
    const run = runs.get(t.runId);
    if (isActiveRun(run)) stop.push(t.runId);
    if (t.status === "running" || t.status === "pending") {
      const p: TrialPatch = {
        status: "stopped",
        finalMetric: t.lastMetric,
        ...(run ? { steps: run.globalStep, iteration: run.iteration } : {}),
      };
      updates.set(t.id, p);
      Object.assign(t, p);
    }
  }
  return { trials: out, updates, stop };
}

/** The latest non-missing value of a curve. */
export function latestValue(curve: readonly CurvePoint[]): number | null {
  for (let i = curve.length - 1; i >= 0; i--) if (curve[i]!.value !== null) return curve[i]!.value;
  return null;
}
