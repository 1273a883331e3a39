import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Lease } from "../../actors/leased-host.ts";
import type { MetricRecord, RunStore, StoredCheckpoint } from "../../actors/training-run.ts";
import {
  ACTIVE_STATUSES,
  isTerminal,
  RESUMABLE_STATUSES,
  type RunStatus,
  STOP_TRANSITIONS,
} from "../../contracts/run-status.ts";
import type { RunEvaluation } from "../../contracts/runs.ts";
import { Checkpoint } from "../../db/entities/Checkpoint.ts";
import type { CodeEnvDefinition } from "../../rl/envs/code-env.ts";
import { FENCE, Fenced, fence, type LeaseTable, PgLeaseStore, UNTIL } from "../leases/lease-store.ts";
import { findCodeEnv } from "./code-envs.ts";

/** A list of statuses as SQL literals (the statuses are the contract's constants, never input). */
const sqlList = (statuses: readonly RunStatus[]) => statuses.map((s) => `'${s}'`).join(", ");

/**
 * The stop request's guard and its new status, derived from the contract's transition table: the
 * statuses a stop applies to, and a `case` that maps each to its target (contracts/run-status.ts).
 */
const STOPPABLE = Object.keys(STOP_TRANSITIONS) as RunStatus[];
const STOP_STATUS = `case "status" ${STOPPABLE.map((s) => `when '${s}' then '${STOP_TRANSITIONS[s]}'`).join(" ")} end`;
/** A stop that ends the run at once (queued → stopped) stamps its end. */
const STOP_ENDS = sqlList(STOPPABLE.filter((s) => isTerminal(STOP_TRANSITIONS[s]!)));

/** The runs' leases: an active run without a live one is claimed; a run handed back holds no runners. */
const RUN_LEASES: LeaseTable = {
  name: "runs",
  activeStatuses: ACTIVE_STATUSES,
  onRelease: `"runners_active" = 0`,
};
export const runLeases = (orm: MikroORM, leaseTtlMs: number) => new PgLeaseStore(orm, RUN_LEASES, leaseTtlMs);
// Where the workers service has always found it.
export { pgArray } from "../leases/lease-store.ts";

/**
 * Asks a run to stop, in one conditional UPDATE: queued → stopped, running → stopping (the actor
 * finishes within one iteration). The status in the WHERE is the compare-and-set: of two stops sent
 * together one moves the run and the other finds it stopping (null: the caller answers 409).
 * Returns the status written, or null when the run was in no state to be stopped (or is gone).
 */
export async function requestStop(orm: MikroORM, runId: string): Promise<RunStatus | null> {
  const rows = await orm.em.getConnection().execute<{ status: RunStatus }[]>(
    `update "runs" set
       "status" = ${STOP_STATUS},
       "finished_at" = case when "status" in (${STOP_ENDS}) then now() else "finished_at" end,
       "version" = "version" + 1,
       "updated_at" = now()
     where "id" = ? and "status" in (${sqlList(STOPPABLE)})
     returning "status"`,
    [runId],
  );
  return rows[0]?.status ?? null;
}

/**
 * Resume: a stopped or failed run goes back to the queue with a new lease for `nodeID`, if its
 * status is still the one the caller read (`version`). Null when another request changed it first.
 * It waits for a new grant of its pool's scheduler, at the back of its owner's runs (`queued_at`).
 */
export async function requestResume(
  em: EntityManager,
  runId: string,
  version: number,
  nodeID: string,
  leaseTtlMs: number,
): Promise<Lease | null> {
  const rows = await em.execute<{ lease_epoch: number }[]>(
    `update "runs" set "status" = 'queued', "owner_node" = ?, "lease_epoch" = "lease_epoch" + 1,
       "lease_until" = ${UNTIL}, "failure_reason" = null, "finished_at" = null,
       "queued_at" = now(), "granted_at" = null, "queue" = null,
       "version" = "version" + 1, "updated_at" = now()
     where "id" = ? and "version" = ? and "status" in (${sqlList(RESUMABLE_STATUSES)})
     returning "lease_epoch"`,
    [nodeID, leaseTtlMs, runId, version],
  );
  return rows[0] ? { nodeID, epoch: rows[0].lease_epoch } : null;
}

/**
 * Deletes a run (metrics and checkpoints go with it, by cascade) if it is still the version the
 * caller read. Its host's next write finds no row and ends the actor. False when it changed first.
 */
export async function requestDelete(orm: MikroORM, runId: string, version: number): Promise<boolean> {
  const rows = await orm.em
    .getConnection()
    .execute<{ id: string }[]>(`delete from "runs" where "id" = ? and "version" = ? returning "id"`, [
      runId,
      version,
    ]);
  return rows.length > 0;
}

/**
 * The store of one activation of a TrainingRun actor. Every write is conditional on the activation's
 * lease (node, epoch, not expired) and renews it; a write that finds the lease gone changes nothing and
 * reports the run as gone (null/false), and the actor ends. Writes never move `version` unless they
 * change the status, so that a user's stop, resume or delete races only with real status changes.
 */
export class PgRunStore implements RunStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly lease: Lease,
    private readonly leaseTtlMs: number,
  ) {}

  async status(runId: string): Promise<RunStatus | null> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ status: RunStatus }[]>(`select "status" from "runs" where "id" = ? and ${FENCE}`, [
        runId,
        ...fence(this.lease),
      ]);
    return rows[0]?.status ?? null;
  }

  async granted(runId: string): Promise<boolean> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ granted: boolean }[]>(
        `select "granted_at" is not null as "granted" from "runs" where "id" = ? and ${FENCE}`,
        [runId, ...fence(this.lease)],
      );
    return rows[0]?.granted === true;
  }

  async transition(
    runId: string,
    from: RunStatus,
    to: RunStatus,
    extra: { failureReason?: string | null; evaluation?: RunEvaluation } = {},
  ): Promise<boolean> {
    const terminal = to === "completed" || to === "stopped" || to === "failed";
    const rows = await this.orm.em.getConnection().execute<{ id: string }[]>(
      `update "runs" set "status" = ?, "version" = "version" + 1, "updated_at" = now(),
         "lease_until" = ${UNTIL},
         "started_at" = case when ? then coalesce("started_at", now()) else "started_at" end,
         "finished_at" = case when ? then now() else "finished_at" end,
         "failure_reason" = case when ? then ? else "failure_reason" end,
         "runners_active" = case when ? then 0 else "runners_active" end,
         "evaluation" = case when ? then ?::jsonb else "evaluation" end
       where "id" = ? and "status" = ? and ${FENCE}
       returning "id"`,
      [
        to,
        this.leaseTtlMs,
        to === "running",
        terminal,
        extra.failureReason !== undefined,
        extra.failureReason ?? null,
        terminal,
        extra.evaluation !== undefined,
        extra.evaluation === undefined ? null : JSON.stringify(extra.evaluation),
        runId,
        from,
        ...fence(this.lease),
      ],
    );
    return rows.length > 0;
  }

  /**
   * The iteration's point and the run's counters in one transaction. The run's row is updated (and so
   * locked) first under the fence: a takeover, which must update that row too, waits for this
   * transaction or makes it write nothing; never both.
   */
  async recordIteration(
    runId: string,
    point: MetricRecord,
    runnersActive: number,
  ): Promise<RunStatus | null> {
    try {
      return await this.orm.em.fork().transactional(async (em) => {
        const rows = await em.execute<{ status: RunStatus }[]>(
          `update "runs" set "iteration" = ?, "global_step" = ?, "runners_active" = ?, "updated_at" = now(),
             "lease_until" = ${UNTIL}
           where "id" = ? and ${FENCE} returning "status"`,
          [point.iteration, point.globalStep, runnersActive, this.leaseTtlMs, runId, ...fence(this.lease)],
        );
        if (!rows[0]) throw new Fenced();
        await em.execute(
          `insert into "metric_points" ("id", "run_id", "iteration", "global_step", "wall_time", "metrics")
           values (gen_random_uuid(), ?, ?, ?, now(), ?::jsonb)
           on conflict ("run_id", "iteration") do update set "global_step" = excluded."global_step",
             "wall_time" = excluded."wall_time", "metrics" = excluded."metrics"`,
          [runId, point.iteration, point.globalStep, JSON.stringify(point.metrics)],
        );
        return rows[0].status;
      });
    } catch (err) {
      if (err instanceof Fenced) return null;
      throw err;
    }
  }

  async saveCheckpoint(runId: string, c: StoredCheckpoint & { globalStep: number }): Promise<boolean> {
    try {
      await this.orm.em.fork().transactional(async (em: EntityManager) => {
        await this.lockRun(em, runId);
        // One statement, the bytes as a driver parameter: an entity upsert clones and compares the blob
        // byte by byte on the event loop (~0.6 s for a 5 MB checkpoint of a 448 × 448 network), which
        // froze the API as the learner's own computation no longer does (issue 15).
        await em.execute(
          `insert into "checkpoints" ("id", "run_id", "iteration", "global_step", "bytes", "runner_states", "created_at")
           values (?, ?, ?, ?, ?, ?, now())
           on conflict ("run_id", "iteration") do update set "global_step" = excluded."global_step",
             "bytes" = excluded."bytes", "runner_states" = excluded."runner_states", "created_at" = excluded."created_at"`,
          [
            randomUUID(),
            runId,
            c.iteration,
            c.globalStep,
            Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength),
            JSON.stringify(c.runnerStates),
          ],
        );
      });
      return true;
    } catch (err) {
      if (err instanceof Fenced) return false;
      throw err;
    }
  }

  async setRunnersActive(runId: string, runnersActive: number): Promise<boolean> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ id: string }[]>(
        `update "runs" set "runners_active" = ?, "lease_until" = ${UNTIL} where "id" = ? and ${FENCE} returning "id"`,
        [runnersActive, this.leaseTtlMs, runId, ...fence(this.lease)],
      );
    return rows.length > 0;
  }

  async codeEnv(envId: string): Promise<CodeEnvDefinition | null> {
    const env = await findCodeEnv(this.orm.em.fork(), envId);
    return env && { code: env.code, spec: env.spec };
  }

  async latestCheckpoint(runId: string): Promise<StoredCheckpoint | null> {
    const c = await latestCheckpoint(this.orm, runId);
    return c && { iteration: c.iteration, bytes: c.bytes, runnerStates: c.runnerStates };
  }

  /** Locks the run's row under the fence (renewing the lease), or rolls the transaction back. */
  private async lockRun(em: EntityManager, runId: string): Promise<void> {
    const rows = await em.execute<{ id: string }[]>(
      `update "runs" set "lease_until" = ${UNTIL} where "id" = ? and ${FENCE} returning "id"`,
      [this.leaseTtlMs, runId, ...fence(this.lease)],
    );
    if (!rows[0]) throw new Fenced();
  }
}

/** The run's newest checkpoint, bytes included. */
export async function latestCheckpoint(orm: MikroORM, runId: string): Promise<Checkpoint | null> {
  return orm.em
    .fork()
    .findOne(Checkpoint, { run: runId }, { orderBy: { iteration: "desc" }, populate: ["bytes"] });
}
