import type { EntityManager } from "@mikro-orm/postgresql";
import type { TrialRow } from "../../actors/sweep.ts";
import type { Caller, Role } from "../../contracts/roles.ts";
import { ACTIVE_SWEEP_STATUSES, TRIAL_STATUSES, type TrialStatus } from "../../contracts/sweep-status.ts";
import type { PublicSweep, PublicTrial, SweepWithTrials, TrialUpdate } from "../../contracts/sweeps.ts";
import { Run } from "../../db/entities/Run.ts";
import { Sweep } from "../../db/entities/Sweep.ts";
import { SweepTrial } from "../../db/entities/SweepTrial.ts";
import { lockUserQuota } from "../../db/user-lock.ts";
import { csvRow } from "../../lib/csv.ts";
import {
  type FieldProblem,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ValidationFailedError,
} from "../../lib/errors.ts";
import { type CodeEnvSpec, isCodeEnvId } from "../../rl/envs/code-env.ts";
import { isEnvId, unknownEnvMessage } from "../../rl/envs/registry.ts";
import type { CustomEnvCaps } from "../../sandbox/env-types.ts";
import { better } from "../../sweeps/asha.ts";
import { parseSweepDefinition, type SweepDefinition, SweepDefinitionError } from "../../sweeps/definition.ts";
import { boundsOf, type Distribution } from "../../sweeps/space.ts";
import { expandTrials, type TrialSpec, trialHyperparameters } from "../../sweeps/trials.ts";
import { usableCodeEnv } from "../runs/code-envs.ts";
import { checkComputeQuota, envDims } from "../runs/compute.ts";
import { type EffectiveQuota, holder } from "../runs/quotas.ts";
import { gpuRefused } from "../runs/records.ts";
import { type ResolvedRun, resolveRun } from "../runs/resolve.ts";
import type { CreateRunInput } from "../runs/schemas.ts";

export const SWEEP_ROLES: readonly Role[] = ["researcher", "admin"];

/**
 * A definition checked as far as it can be before anything is written: its own schema, its env (a
 * built-in one, or an environment defined by code that the caller may train on), then every trial's
 * run as the runs service would resolve it, then the owner's quota (`q`, the effective one). Problems
 * name the definition's key (422); what the quota never allows is a 403 with a reason.
 */
export async function checkDefinition(
  em: EntityManager,
  raw: unknown,
  caller: Caller,
  q: EffectiveQuota,
  /** Today's caps on environments defined by code (`codeEnvCaps(config)`). */
  envCaps?: CustomEnvCaps,
): Promise<{ def: SweepDefinition; trials: TrialSpec[] }> {
  if (!SWEEP_ROLES.includes(caller.role)) {
    throw new ForbiddenError("sweeps are for researchers and admins; a learner launches runs one at a time", {
      reason: "role",
    });
  }
  let def: SweepDefinition;
  let trials: TrialSpec[];
  let codeEnv: CodeEnvSpec | undefined;
  try {
    def = parseSweepDefinition(raw);
    if (isCodeEnvId(def.env)) codeEnv = (await usableCodeEnv(em, def.env, caller, envCaps)).spec;
    else if (!isEnvId(def.env))
      throw new SweepDefinitionError([{ field: "env", message: unknownEnvMessage(def.env) }]);
    trials = expandTrials(def);
  } catch (err) {
    if (err instanceof SweepDefinitionError)
      throw new ValidationFailedError("the sweep is invalid", err.issues);
    if (err instanceof ValidationFailedError)
      throw new ValidationFailedError(
        "the sweep is invalid",
        (err.data as { errors: FieldProblem[] }).errors,
      );
    throw err;
  }
  const resolved: ResolvedRun[] = [];
  for (const t of trials) {
    try {
      resolved.push(resolveRun(runInput(def, t), codeEnv));
    } catch (err) {
      if (err instanceof ValidationFailedError) {
        const errors = (err.data as { errors: { field: string; message: string }[] }).errors;
        throw new ValidationFailedError(
          `the sweep is invalid (trial ${t.index})`,
          errors.map((e) => ({
            field:
              e.field.startsWith("hyperparameters.") && e.field.slice(16) in def.searchSpace
                ? `searchSpace.${e.field.slice(16)}`
                : e.field,
            message: e.message,
          })),
        );
      }
      throw err;
    }
  }
  const runners = def.resources?.runners ?? 1;
  if (def.resources?.gpu && !q.gpu) throw gpuRefused(caller.role, q);
  if (runners > q.runnersPerRun)
    throw new ForbiddenError(
      `${holder(caller.role, q, "runnersPerRun")} may use at most ${q.runnersPerRun} runners per run`,
      {
        reason: "runnersPerRun",
        limit: q.runnersPerRun,
      },
    );
  if (def.totalSteps > q.totalSteps)
    throw new ForbiddenError(
      `${holder(caller.role, q, "totalSteps")} may train for at most ${q.totalSteps} steps`,
      {
        reason: "totalSteps",
        limit: q.totalSteps,
      },
    );
  checkSweepCompute(def, trials, resolved, caller, q, codeEnv);
  return { def, trials };
}

/** The largest value a distribution can give (PBT's perturbations stay within it); null if not numeric. */
function reachableMax(d: Distribution): number | null {
  const b = boundsOf(d);
  if (b) return b.high;
  const values = (d as { values: unknown[] }).values;
  return values.every((v) => typeof v === "number") ? Math.max(...(values as number[])) : null;
}

/**
 * The compute quotas (services/runs/compute.ts) on every trial as the runs service will check it at
 * launch, so that a sweep that cannot run is refused whole, up front. PBT's later generations take
 * perturbed values (×0.8, ×1.2, resampled, kept within the search space's bounds), so its check also
 * takes the largest updateEpochs and numMinibatches the space allows: the perturbed trials are then
 * within the quotas too (the runs service checks each again when it launches them).
 */
function checkSweepCompute(
  def: SweepDefinition,
  trials: readonly TrialSpec[],
  resolved: readonly ResolvedRun[],
  caller: Caller,
  q: EffectiveQuota,
  codeEnv: CodeEnvSpec | undefined,
): void {
  const dims = envDims(def.env, codeEnv);
  for (const [i, t] of trials.entries())
    checkComputeQuota(caller.role, q, resolved[i]!.config, dims, `trial ${t.index}`);
  if (def.method !== "pbt" || resolved.length === 0) return;
  const worst = { ...resolved[0]!.config };
  for (const key of ["updateEpochs", "numMinibatches"] as const) {
    const d = def.searchSpace[key];
    const max = d ? reachableMax(d) : null;
    if (max !== null) worst[key] = Math.max(worst[key], max);
  }
  checkComputeQuota(
    caller.role,
    q,
    worst,
    dims,
    "with the largest updateEpochs and numMinibatches that PBT's perturbations may reach in searchSpace",
  );
}

/**
 * The concurrent-sweeps quota, counted under the owner's lock (db/user-lock.ts) inside the
 * transaction that then makes a sweep running (create, resume): parallel requests of one user count
 * one after the other, so exactly the quota's worth get through (429 with Retry-After beyond).
 */
export async function reserveSweepSlot(tx: EntityManager, caller: Caller, q: EffectiveQuota): Promise<void> {
  await lockUserQuota(tx, "sweeps", caller.userId);
  const active = await tx.count(Sweep, { owner: caller.userId, status: { $in: [...ACTIVE_SWEEP_STATUSES] } });
  if (active >= q.concurrentSweeps) {
    throw new RateLimitedError(
      `${holder(caller.role, q, "concurrentSweeps")} may have ${q.concurrentSweeps} sweeps running at once; stop or wait for one`,
      60,
    );
  }
}

/** The `runs.create` input of one trial (its run's id and the caller are added by the launcher). */
export function runInput(
  def: SweepDefinition,
  t: Pick<TrialSpec, "params" | "seed" | "totalSteps">,
): CreateRunInput {
  return {
    env: def.env,
    preset: def.preset,
    hyperparameters: trialHyperparameters(def, t.params),
    seed: t.seed,
    totalSteps: t.totalSteps,
    ...(def.resources ? { resources: def.resources } : {}),
  };
}

/** The sweep if the caller may see it (its owner, or an admin); others' are 404s, as missing ones. */
export async function visibleSweep(em: EntityManager, sweepId: string, caller: Caller): Promise<Sweep> {
  const sweep = await em.findOne(Sweep, { id: sweepId });
  if (!sweep || (caller.role !== "admin" && sweep.owner.id !== caller.userId))
    throw new NotFoundError("sweep");
  return sweep;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** `evaluationReturn`: the evaluation of the trial's final policy, recorded by its completed run. */
export function toPublicTrial(t: SweepTrial, evaluationReturn: number | null = null): PublicTrial {
  return {
    id: t.id,
    index: t.index,
    status: t.status,
    params: t.params,
    seed: t.seed,
    runId: t.runId,
    totalSteps: t.totalSteps,
    steps: t.steps,
    iteration: t.iteration,
    lastMetric: t.lastMetric ?? null,
    finalMetric: t.finalMetric ?? null,
    evaluationReturn,
    rungs: t.rungs,
    pruned:
      t.status === "pruned" && t.prunedRung != null
        ? { rung: t.prunedRung, value: t.prunedValue ?? null, cutoff: t.prunedCutoff ?? null }
        : null,
    member: t.member ?? null,
    generation: t.generation ?? null,
    lineage: t.lineage ?? null,
    failureReason: t.failureReason ?? null,
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
  };
}

export function trialUpdate(t: TrialRow): TrialUpdate {
  return {
    id: t.id,
    index: t.index,
    status: t.status,
    runId: t.runId,
    steps: t.steps,
    iteration: t.iteration,
    lastMetric: t.lastMetric,
    finalMetric: t.finalMetric,
    rungs: t.rungs,
  };
}

/** The best trial: the sweep's recorded one when it has ended, else the best final metric so far. */
function bestOf(sweep: Sweep, trials: readonly SweepTrial[]): PublicSweep["best"] {
  const def = sweep.definition;
  let best: SweepTrial | undefined;
  if (sweep.bestTrialId) best = trials.find((t) => t.id === sweep.bestTrialId);
  else {
    for (const t of trials) {
      if (t.status !== "completed" || t.finalMetric == null) continue;
      if (!best || better(t.finalMetric, best.finalMetric ?? null, def.mode)) best = t;
    }
  }
  return best
    ? {
        trialId: best.id,
        index: best.index,
        runId: best.runId,
        metric: best.finalMetric ?? null,
        params: best.params,
      }
    : null;
}

export function toPublicSweep(sweep: Sweep, trials: readonly SweepTrial[]): PublicSweep {
  const trialCounts = Object.fromEntries(TRIAL_STATUSES.map((s) => [s, 0])) as Record<TrialStatus, number>;
  for (const t of trials) trialCounts[t.status as TrialStatus] += 1;
  return {
    id: sweep.id,
    ownerId: sweep.owner.id,
    name: sweep.name,
    env: sweep.envId,
    method: sweep.definition.method,
    status: sweep.status,
    definition: sweep.definition as unknown as Record<string, unknown>,
    best: bestOf(sweep, trials),
    trialCounts,
    failureReason: sweep.failureReason ?? null,
    createdAt: sweep.createdAt.toISOString(),
    updatedAt: sweep.updatedAt.toISOString(),
    finishedAt: iso(sweep.finishedAt),
  };
}

export async function sweepWithTrials(em: EntityManager, sweep: Sweep): Promise<SweepWithTrials> {
  const trials = await em.find(SweepTrial, { sweep: sweep.id }, { orderBy: { index: "asc" } });
  const evaluated = await em.find(
    Run,
    { id: { $in: trials.map((t) => t.runId) }, evaluation: { $ne: null } },
    { fields: ["id", "evaluation"] },
  );
  const returns = new Map(evaluated.map((r) => [r.id, r.evaluation?.returnMean ?? null]));
  return {
    ...toPublicSweep(sweep, trials),
    trials: trials.map((t) => toPublicTrial(t, returns.get(t.runId) ?? null)),
  };
}

/**
 * The results table: one row per trial with its parameters (one column each), status, the metric at
 * each ASHA rung, its final metric, the evaluation of its final policy and steps; PBT adds member,
 * generation and parent.
 */
export function resultsCsv(sweep: Sweep, trials: readonly PublicTrial[]): string {
  const def = sweep.definition;
  const keys = Object.keys(def.searchSpace);
  const rungs = [...new Set(trials.flatMap((t) => t.rungs.map((r) => r.rung)))].sort((a, b) => a - b);
  const pbt = def.method === "pbt";
  const header = [
    "trial",
    ...keys,
    "seed",
    "status",
    ...rungs.map((r) => `rung_${r}`),
    "pruned_at",
    "final_metric",
    "eval_return_mean",
    "steps",
    "run_id",
    ...(pbt ? ["member", "generation", "parent_trial", "exploited"] : []),
  ];
  const rows = trials.map((t) => [
    t.index,
    ...keys.map((k) => t.params[k]),
    t.seed,
    t.status,
    ...rungs.map((r) => t.rungs.find((x) => x.rung === r)?.value ?? ""),
    t.pruned?.rung ?? "",
    t.finalMetric ?? "",
    t.evaluationReturn ?? "",
    t.steps,
    t.runId,
    ...(pbt ? [t.member, t.generation, t.lineage?.parentTrialId ?? "", t.lineage?.exploited ?? ""] : []),
  ]);
  return [header, ...rows].map(csvRow).join("");
}
