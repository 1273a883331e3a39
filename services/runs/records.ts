import type { EntityManager } from "@mikro-orm/postgresql";
import type { Caller, Role } from "../../contracts/roles.ts";
import { ACTIVE_STATUSES, type RunStatus } from "../../contracts/run-status.ts";
import type { PublicMetricPoint, PublicRun, RunResources } from "../../contracts/runs.ts";
import { MetricPoint } from "../../db/entities/MetricPoint.ts";
import { Run } from "../../db/entities/Run.ts";
import { lockUserQuota } from "../../db/user-lock.ts";
import { decodeKeysetCursor, encodeKeysetCursor } from "../../lib/cursor.ts";
import {
  BadRequestError,
  type FieldProblem,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ValidationFailedError,
} from "../../lib/errors.ts";
import type { CodeEnvSpec } from "../../rl/envs/code-env.ts";
import { isEnvId, unknownEnvMessage } from "../../rl/envs/registry.ts";
import {
  HyperparameterError,
  type Hyperparameters,
  type PresetName,
  resolveHyperparameters,
} from "../../rl/ppo/hyperparameters.ts";
import { aRole, checkComputeQuota, type EnvDims } from "./compute.ts";
import type { RoleQuota } from "./quotas.ts";
import type { CreateRunInput } from "./schemas.ts";

export function toPublicRun(run: Run): PublicRun {
  return {
    id: run.id,
    ownerId: run.owner.id,
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

/** Request fields by the names the caller used: rl's `totalTimesteps` is the request's `totalSteps`. */
function requestField(field: string, seedGiven: boolean): string {
  if (field === "totalTimesteps") return "totalSteps";
  if (field === "seed" && seedGiven) return "seed";
  if (field === "preset") return "preset";
  return `hyperparameters.${field}`;
}

export interface ResolvedRun {
  config: Hyperparameters;
  resources: RunResources;
}

/**
 * The full configuration of a new run: the preset, the overrides, then the request's own fields
 * (totalSteps, seed, and numEnvs from the resources) on top, validated by rl's one schema. Every
 * problem names the request field it came from. `codeEnv`: the spec of the environment defined by
 * code that `input.env` names (checked by the caller), whose action space picks CleanRL's defaults.
 */
export function resolveRun(input: CreateRunInput, codeEnv?: CodeEnvSpec): ResolvedRun {
  if (!codeEnv && !isEnvId(input.env)) {
    throw new ValidationFailedError("the run is invalid", [
      { field: "env", message: unknownEnvMessage(input.env) },
    ]);
  }
  const overrides: Record<string, unknown> = { ...input.hyperparameters, totalTimesteps: input.totalSteps };
  if (input.seed !== undefined) overrides["seed"] = input.seed;
  const runners = input.resources?.runners ?? 1;
  const problems: FieldProblem[] = [];
  if (input.resources?.envsPerRunner !== undefined) {
    const numEnvs = runners * input.resources.envsPerRunner;
    if (overrides["numEnvs"] !== undefined && overrides["numEnvs"] !== numEnvs) {
      problems.push({
        field: "resources.envsPerRunner",
        message: `runners × envsPerRunner must equal hyperparameters.numEnvs`,
      });
    }
    overrides["numEnvs"] = numEnvs;
  }
  let config: Hyperparameters;
  try {
    config = resolveHyperparameters(
      input.env,
      (input.preset ?? "cleanrl") as PresetName,
      overrides,
      codeEnv?.actionSpace.kind,
    );
  } catch (err) {
    if (!(err instanceof HyperparameterError)) throw err;
    problems.push(
      ...err.issues.map((i) => ({
        field: requestField(i.field, input.seed !== undefined),
        message: i.message,
      })),
    );
    throw new ValidationFailedError("the run is invalid", problems);
  }
  if (config.numEnvs % runners !== 0) {
    problems.push({ field: "resources.runners", message: `must divide numEnvs (${config.numEnvs})` });
  }
  if (problems.length > 0) throw new ValidationFailedError("the run is invalid", problems);
  return {
    config,
    resources: { runners, envsPerRunner: config.numEnvs / runners, gpu: input.resources?.gpu ?? false },
  };
}

/**
 * The role's limits on one run's configuration, none of which needs the database: 403 for what the
 * role may never do (a GPU, too many runners or steps, too much compute: `checkComputeQuota`), each
 * naming the limit (`reason`) and its value. `env`: the env's dims (null: unknown, those limits skipped).
 */
export function checkRunLimits(role: Role, q: RoleQuota, r: ResolvedRun, env: EnvDims | null): void {
  if (r.resources.gpu && !q.gpu)
    throw new ForbiddenError("GPU runs are for researchers and admins", { reason: "gpu" });
  if (r.resources.runners > q.runnersPerRun) {
    throw new ForbiddenError(`${aRole(role)} may use at most ${q.runnersPerRun} runners per run`, {
      reason: "runnersPerRun",
      limit: q.runnersPerRun,
      value: r.resources.runners,
    });
  }
  if (r.config.totalTimesteps > q.totalSteps) {
    throw new ForbiddenError(`${aRole(role)} may train for at most ${q.totalSteps} steps`, {
      reason: "totalSteps",
      limit: q.totalSteps,
      value: r.config.totalTimesteps,
    });
  }
  checkComputeQuota(role, q, r.config, env);
}

/**
 * The concurrent-runs quota, counted under the owner's lock (db/user-lock.ts): call it inside the
 * transaction that then makes a run active (create, resume), so that parallel requests of one user
 * count one after the other and exactly the quota's worth get through (429 with Retry-After beyond).
 */
export async function reserveRunSlot(tx: EntityManager, caller: Caller, q: RoleQuota): Promise<void> {
  await lockUserQuota(tx, "runs", caller.userId);
  const active = await tx.count(Run, { owner: caller.userId, status: { $in: [...ACTIVE_STATUSES] } });
  if (active >= q.concurrentRuns) {
    throw new RateLimitedError(
      `${aRole(caller.role)} may have ${q.concurrentRuns} active runs at once; stop or wait for one`,
      60,
    );
  }
}

/** The run if the caller may see it (its owner, or an admin); others' runs are 404s, as missing ones. */
export async function visibleRun(em: EntityManager, runId: string, caller: Caller): Promise<Run> {
  const run = await em.findOne(Run, { id: runId });
  if (!run || (caller.role !== "admin" && run.owner.id !== caller.userId)) throw new NotFoundError("run");
  return run;
}

export interface RunListQuery {
  status?: RunStatus;
  env?: string;
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

/** Newest first; a learner's own runs, every run for an admin. */
export async function listRuns(
  em: EntityManager,
  caller: Caller,
  q: RunListQuery,
): Promise<{ items: PublicRun[]; nextCursor: string | null }> {
  const where: Record<string, unknown> = {};
  if (caller.role !== "admin") where["owner"] = caller.userId;
  if (q.status) where["status"] = q.status;
  if (q.env) where["envId"] = q.env;
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

export async function metricHistory(
  em: EntityManager,
  runId: string,
  fromIteration: number,
  maxPoints: number | undefined,
): Promise<PublicMetricPoint[]> {
  const rows = await em.find(
    MetricPoint,
    { run: runId, iteration: { $gte: fromIteration } },
    { orderBy: { iteration: "asc" } },
  );
  const picked =
    maxPoints === undefined ? rows : downsampleIndices(rows.length, maxPoints).map((i) => rows[i]!);
  return picked.map((m) => ({
    iteration: m.iteration,
    globalStep: m.globalStep,
    wallTime: m.wallTime.toISOString(),
    metrics: m.metrics,
  }));
}
