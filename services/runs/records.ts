import type { EntityManager } from "@mikro-orm/postgresql";
import type { Caller, Role } from "../../contracts/roles.ts";
import { ACTIVE_STATUSES, type RunStatus } from "../../contracts/run-status.ts";
import type { PublicMetricPoint, PublicRun, TrialFilter, UpdateRunInput } from "../../contracts/runs.ts";
import { Run } from "../../db/entities/Run.ts";
import { lockUserQuota } from "../../db/user-lock.ts";
import { decodeKeysetCursor, encodeKeysetCursor } from "../../lib/cursor.ts";
import { BadRequestError, ForbiddenError, NotFoundError, RateLimitedError } from "../../lib/errors.ts";
import { pgArray } from "../leases/lease-store.ts";
import { checkComputeQuota, type EnvDims } from "./compute.ts";
import { type EffectiveQuota, holder } from "./quotas.ts";
import type { ResolvedRun } from "./resolve.ts";

export function toPublicRun(run: Run): PublicRun {
  return {
    id: run.id,
    ownerId: run.owner.id,
    name: run.name ?? null,
    tags: run.tags,
    notes: run.notes ?? null,
    sweep: run.sweepId != null ? { id: run.sweepId, trialIndex: run.trialIndex ?? 0 } : null,
    env: run.envId,
    preset: run.preset ?? null,
    config: run.config as unknown as Record<string, unknown>,
    seed: run.seed,
    totalSteps: run.totalSteps,
    resources: run.resources,
    status: run.status,
    iteration: run.iteration,
    globalStep: run.globalStep,
    runnersActive: run.runnersActive,
    failureReason: run.failureReason ?? null,
    // The scheduler's last word on a run still waiting for its slots; none once granted or past queued.
    queue: run.status === "queued" && !run.grantedAt ? (run.queue ?? null) : null,
    evaluation: run.evaluation ?? null,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

/**
 * The quota's limits on one run's configuration, none of which needs the database: 403 for what the
 * role may never do (a GPU, too many runners or steps, too much compute: `checkComputeQuota`), each
 * naming the limit (`reason`) and its value. `env`: the env's dims (null: unknown, those limits skipped).
 */
export function checkRunLimits(role: Role, q: EffectiveQuota, r: ResolvedRun, env: EnvDims | null): void {
  if (r.resources.gpu && !q.gpu) throw gpuRefused(role, q);
  if (r.resources.runners > q.runnersPerRun) {
    throw new ForbiddenError(
      `${holder(role, q, "runnersPerRun")} may use at most ${q.runnersPerRun} runners per run`,
      {
        reason: "runnersPerRun",
        limit: q.runnersPerRun,
        value: r.resources.runners,
      },
    );
  }
  if (r.config.totalTimesteps > q.totalSteps) {
    throw new ForbiddenError(`${holder(role, q, "totalSteps")} may train for at most ${q.totalSteps} steps`, {
      reason: "totalSteps",
      limit: q.totalSteps,
      value: r.config.totalTimesteps,
    });
  }
  checkComputeQuota(role, q, r.config, env);
}

/** A GPU asked for where the quota has none: the role's rule, or this account's override. */
export function gpuRefused(role: Role, q: EffectiveQuota): ForbiddenError {
  const message = q.overridden?.includes("gpu")
    ? "this account may not run on a GPU"
    : `GPU runs are not for ${role === "admin" ? "admins" : `${role}s`}`;
  return new ForbiddenError(message, { reason: "gpu" });
}

/**
 * The concurrent-runs quota, counted under the owner's lock (db/user-lock.ts): call it inside the
 * transaction that then makes a run active (create, resume), so that parallel requests of one user
 * count one after the other and exactly the quota's worth get through (429 with Retry-After beyond).
 */
export async function reserveRunSlot(tx: EntityManager, caller: Caller, q: EffectiveQuota): Promise<void> {
  await lockUserQuota(tx, "runs", caller.userId);
  const active = await tx.count(Run, { owner: caller.userId, status: { $in: [...ACTIVE_STATUSES] } });
  if (active >= q.concurrentRuns) {
    throw new RateLimitedError(
      `${holder(caller.role, q, "concurrentRuns")} may have ${q.concurrentRuns} active runs at once; stop or wait for one`,
      60,
    );
  }
}

/** The run if the caller may see it (its owner, or an admin); others' runs are 404s, as missing ones. */
export async function visibleRun(em: EntityManager, runId: string, caller: Caller): Promise<Run> {
  const run = await em.findOne(Run, { id: runId });
  checkVisible(run?.owner.id, caller);
  return run!;
}

/** `visibleRun`'s rule for a read that needs only the run's id: its owner is all that is read. */
export async function visibleRunId(em: EntityManager, runId: string, caller: Caller): Promise<string> {
  const [row] = await em.execute<{ owner_id: string }[]>(`select "owner_id" from "runs" where "id" = ?`, [
    runId,
  ]);
  checkVisible(row?.owner_id, caller);
  return runId;
}

/** Its owner or an admin may see a run; to anyone else it is missing (404), as one that is not there. */
function checkVisible(ownerId: string | undefined, caller: Caller): void {
  if (ownerId === undefined || (caller.role !== "admin" && ownerId !== caller.userId)) {
    throw new NotFoundError("run");
  }
}

export interface RunListQuery {
  status?: RunStatus;
  env?: string;
  /** Only runs with this tag. */
  tag?: string;
  /** Only runs whose name contains this (any case). */
  q?: string;
  /** Sweeps' trials: left out (default), listed too, or alone. */
  trials?: TrialFilter;
  /** Only the trials of this sweep. */
  sweepId?: string;
  limit: number;
  cursor?: string;
}

function encodeCursor(run: Run): string {
  return encodeKeysetCursor(run.createdAt, run.id);
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const position = decodeKeysetCursor(cursor);
  if (!position) throw new BadRequestError("the cursor is not valid", { field: "query.cursor" });
  return { createdAt: position.at, id: position.id };
}

/** Newest first; a learner's own runs, every run for an admin; a sweep's trials only when asked for. */
export async function listRuns(
  em: EntityManager,
  caller: Caller,
  q: RunListQuery,
): Promise<{ items: PublicRun[]; nextCursor: string | null }> {
  const where: Record<string, unknown> = {};
  if (caller.role !== "admin") where["owner"] = caller.userId;
  if (q.status) where["status"] = q.status;
  if (q.env) where["envId"] = q.env;
  if (q.tag) where["tags"] = { $contains: [q.tag] };
  // `\` escapes LIKE's own wildcards, so that the text is matched as written.
  if (q.q) where["name"] = { $ilike: `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
  if (q.sweepId) where["sweepId"] = q.sweepId;
  else if ((q.trials ?? "exclude") === "exclude") where["sweepId"] = null;
  else if (q.trials === "only") where["sweepId"] = { $ne: null };
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    where["$or"] = [{ createdAt: { $lt: c.createdAt } }, { createdAt: c.createdAt, id: { $lt: c.id } }];
  }
  const rows = await em.find(Run, where, { orderBy: { createdAt: "desc", id: "desc" }, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  return {
    items: page.map(toPublicRun),
    nextCursor: rows.length > q.limit ? encodeCursor(page.at(-1)!) : null,
  };
}

/** Evenly spaced indices of n items, first and last included, at most k of them. */
export function downsampleIndices(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [n - 1];
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.round((i * (n - 1)) / (k - 1)));
  return [...out];
}

/**
 * A run's points from `fromIteration`, at most `maxPoints` of them evenly spaced (`downsampleIndices`).
 * The spacing is chosen from the iterations alone (an index-only scan of the (run, iteration) unique
 * index), then only the chosen points are read: a run of 5,000 points sends 200 rows, not 5,000.
 */
export async function metricHistory(
  em: EntityManager,
  runId: string,
  fromIteration: number,
  maxPoints: number | undefined,
): Promise<PublicMetricPoint[]> {
  if (maxPoints === undefined) {
    return pointRows(em, `"iteration" >= ? order by "iteration"`, [runId, fromIteration]);
  }
  const all = await em.execute<{ iteration: number }[]>(
    `select "iteration" from "metric_points" where "run_id" = ? and "iteration" >= ? order by "iteration"`,
    [runId, fromIteration],
  );
  const picked = downsampleIndices(all.length, maxPoints).map((i) => all[i]!.iteration);
  return pointRows(em, `"iteration" = any(?::int[]) order by "iteration"`, [runId, pgIntArray(picked)]);
}

/** A list of integers as a PostgreSQL array literal. */
const pgIntArray = (xs: readonly number[]) => `{${xs.join(",")}}`;
/**
 * A run's name, tags and notes as the request gives them (the fields left out keep their value, null
 * clears). One UPDATE of those columns only: it neither moves `version` (the status's optimistic lock,
 * so that a metadata edit never makes a concurrent stop or resume a 409) nor touches what the run's
 * host writes. False when the run is gone.
 */
export async function updateRunMetadata(
  em: EntityManager,
  runId: string,
  changes: UpdateRunInput,
): Promise<boolean> {
  const sets: string[] = [];
  const values: unknown[] = [];
  if (changes.name !== undefined) {
    sets.push(`"name" = ?`);
    values.push(changes.name);
  }
  if (changes.tags !== undefined) {
    sets.push(`"tags" = ?::text[]`);
    values.push(pgArray(changes.tags));
  }
  if (changes.notes !== undefined) {
    sets.push(`"notes" = ?`);
    values.push(changes.notes);
  }
  const rows = await em.execute<{ id: string }[]>(
    `update "runs" set ${sets.join(", ")}, "updated_at" = now() where "id" = ? returning "id"`,
    [...values, runId],
  );
  return rows.length > 0;
}

/** The metric keys of a run's points up to its last iteration (sorted), and that iteration (-1: no point). */
export async function metricKeys(
  em: EntityManager,
  runId: string,
): Promise<{ keys: string[]; lastIteration: number }> {
  // In SQL: the keys of every point, without sending the points to this process.
  const [last] = await em.execute<{ last: number | null }[]>(
    `select max("iteration") as "last" from "metric_points" where "run_id" = ?`,
    [runId],
  );
  const lastIteration = last?.last ?? -1;
  const rows = await em.execute<{ key: string }[]>(
    `select distinct jsonb_object_keys("metrics") as "key" from "metric_points"
     where "run_id" = ? and "iteration" <= ?`,
    [runId, lastIteration],
  );
  // Code-unit order, the same on every machine (localeCompare is not).
  const keys = rows.map((r) => r.key).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { keys, lastIteration };
}

/** One page of points, by iteration, for an export that pages through a long run. */
export async function metricPage(
  em: EntityManager,
  runId: string,
  fromIteration: number,
  toIteration: number,
  limit: number,
): Promise<PublicMetricPoint[]> {
  return pointRows(em, `"iteration" between ? and ? order by "iteration" limit ?`, [
    runId,
    fromIteration,
    toIteration,
    limit,
  ]);
}

/**
 * A run's points where `condition` holds (after the run's own id, the first parameter), as plain rows,
 * not entities: hydrating and tracking entities cost several times the query (5,000 points: ~7 ms).
 */
async function pointRows(
  em: EntityManager,
  condition: string,
  params: unknown[],
): Promise<PublicMetricPoint[]> {
  const rows = await em.execute<
    { iteration: number; global_step: string; wall_time: Date; metrics: unknown }[]
  >(
    `select "iteration", "global_step", "wall_time", "metrics" from "metric_points"
     where "run_id" = ? and ${condition}`,
    params,
  );
  return rows.map((r) => ({
    iteration: r.iteration,
    globalStep: Number(r.global_step),
    wallTime: new Date(r.wall_time).toISOString(),
    metrics: (typeof r.metrics === "string" ? JSON.parse(r.metrics) : r.metrics) as Record<
      string,
      number | null
    >,
  }));
}
