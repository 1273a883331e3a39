import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Lease } from "../../actors/leased-host.ts";
import type { NewTrial, RunProgress, SweepStore, TrialPatch, TrialRow } from "../../actors/sweep.ts";
import type { RunStatus } from "../../contracts/run-status.ts";
import {
  ACTIVE_SWEEP_STATUSES,
  type RungRecord,
  type SweepStatus,
  type TrialLineage,
  type TrialStatus,
} from "../../contracts/sweep-status.ts";
import type { CurvePoint } from "../../sweeps/asha.ts";
import {
  claimRow,
  FENCE,
  Fenced,
  fence,
  type LeaseTable,
  PgLeaseStore,
  UNTIL,
} from "../leases/lease-store.ts";

/** The sweeps' leases (services/leases/lease-store.ts): an active sweep without a live one is claimed. */
const SWEEP_LEASES: LeaseTable = { name: "sweeps", activeStatuses: ACTIVE_SWEEP_STATUSES };
export const sweepLeases = (orm: MikroORM, leaseTtlMs: number) =>
  new PgLeaseStore(orm, SWEEP_LEASES, leaseTtlMs);

/** Claims one sweep for this node now, whatever its lease (creation and resume); the epoch goes up. */
export const claimSweep = (em: EntityManager, sweepId: string, nodeID: string, leaseTtlMs: number) =>
  claimRow(em, SWEEP_LEASES, sweepId, nodeID, leaseTtlMs);

const ACTIVE = ACTIVE_SWEEP_STATUSES.map((s) => `'${s}'`).join(", ");

interface TrialDbRow {
  id: string;
  index: number;
  params: Record<string, unknown>;
  seed: string | number;
  total_steps: string | number;
  run_id: string;
  status: TrialStatus;
  rungs: RungRecord[];
  last_metric: number | null;
  final_metric: number | null;
  steps: string | number;
  iteration: number;
  member: number | null;
  generation: number | null;
  lineage: TrialLineage | null;
}

const COLUMNS: Record<keyof TrialPatch, string> = {
  status: "status",
  rungs: "rungs",
  prunedRung: "pruned_rung",
  prunedValue: "pruned_value",
  prunedCutoff: "pruned_cutoff",
  lastMetric: "last_metric",
  finalMetric: "final_metric",
  steps: "steps",
  iteration: "iteration",
  failureReason: "failure_reason",
  startedAt: "started_at",
  finishedAt: "finished_at",
};
const JSON_COLUMNS = new Set(["rungs"]);

/**
 * The Sweep actor's store for one activation: every write is fenced by the activation's lease, as a
 * run's is (services/runs/store.ts), so that a host whose sweep was taken over writes nothing more.
 */
export class PgSweepStore implements SweepStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly sweepId: string,
    private readonly lease: Lease,
    private readonly leaseTtlMs: number,
  ) {}

  async heartbeat(): Promise<SweepStatus | null> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ status: SweepStatus }[]>(
        `update "sweeps" set "lease_until" = ${UNTIL} where "id" = ? and ${FENCE} returning "status"`,
        [this.leaseTtlMs, this.sweepId, ...fence(this.lease)],
      );
    return rows[0]?.status ?? null;
  }

  async trials(): Promise<TrialRow[]> {
    const rows = await this.orm.em
      .getConnection()
      .execute<TrialDbRow[]>(`select * from "sweep_trials" where "sweep_id" = ? order by "index"`, [
        this.sweepId,
      ]);
    return rows.map((r) => ({
      id: r.id,
      index: r.index,
      params: r.params,
      seed: Number(r.seed),
      totalSteps: Number(r.total_steps),
      runId: r.run_id,
      status: r.status,
      rungs: r.rungs,
      lastMetric: r.last_metric,
      finalMetric: r.final_metric,
      steps: Number(r.steps),
      iteration: r.iteration,
      member: r.member,
      generation: r.generation,
      lineage: r.lineage,
    }));
  }

  /** Several trial updates in one transaction, after locking the sweep's row under the fence. */
  async updateTrials(updates: readonly { id: string; patch: TrialPatch }[]): Promise<boolean> {
    if (updates.length === 0) return (await this.heartbeat()) !== null;
    return this.fenced(async (em) => {
      for (const { id, patch } of updates) {
        const sets: string[] = [`"updated_at" = now()`];
        const values: unknown[] = [];
        for (const [key, value] of Object.entries(patch)) {
          const column = COLUMNS[key as keyof TrialPatch];
          if (JSON_COLUMNS.has(column)) {
            sets.push(`"${column}" = ?::jsonb`);
            values.push(JSON.stringify(value));
          } else {
            sets.push(`"${column}" = ?`);
            values.push(value);
          }
        }
        await em.execute(`update "sweep_trials" set ${sets.join(", ")} where "id" = ? and "sweep_id" = ?`, [
          ...values,
          id,
          this.sweepId,
        ]);
      }
    });
  }

  /** Idempotent on (sweep, index): a re-activated sweep that decides the same trials writes nothing new. */
  async insertTrials(trials: readonly NewTrial[]): Promise<boolean> {
    return this.fenced(async (em) => {
      for (const t of trials) {
        await em.execute(
          `insert into "sweep_trials" ("id", "sweep_id", "index", "params", "seed", "total_steps", "run_id",
             "status", "rungs", "member", "generation", "lineage", "created_at", "updated_at", "steps", "iteration")
           values (gen_random_uuid(), ?, ?, ?::jsonb, ?, ?, ?, 'pending', '[]'::jsonb, ?, ?, ?::jsonb, now(), now(), 0, 0)
           on conflict ("sweep_id", "index") do nothing`,
          [
            this.sweepId,
            t.index,
            JSON.stringify(t.params),
            t.seed,
            t.totalSteps,
            t.runId,
            t.member ?? null,
            t.generation ?? null,
            t.lineage ? JSON.stringify(t.lineage) : null,
          ],
        );
      }
    });
  }

  async runs(runIds: readonly string[]): Promise<Map<string, RunProgress>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.orm.em.getConnection().execute<
      {
        id: string;
        status: RunStatus;
        global_step: string | number;
        iteration: number;
        failure_reason: string | null;
      }[]
    >(`select "id", "status", "global_step", "iteration", "failure_reason" from "runs" where "id" in (?)`, [
      runIds,
    ]);
    return new Map(
      rows.map((r) => [
        r.id,
        {
          status: r.status,
          globalStep: Number(r.global_step),
          iteration: r.iteration,
          failureReason: r.failure_reason,
        },
      ]),
    );
  }

  async curve(
    runId: string,
    metric: string,
    afterIteration: number,
  ): Promise<(CurvePoint & { iteration: number })[]> {
    const rows = await this.orm.em
      .getConnection()
      .execute<{ iteration: number; global_step: string | number; value: number | null }[]>(
        `select "iteration", "global_step", ("metrics" ->> ?)::float8 as "value" from "metric_points"
       where "run_id" = ? and "iteration" > ? order by "iteration"`,
        [metric, runId, afterIteration],
      );
    return rows.map((r) => ({ iteration: r.iteration, globalStep: Number(r.global_step), value: r.value }));
  }

  async finish(
    status: "completed" | "stopped" | "failed",
    best: { trialId: string; metric: number | null } | null,
    failureReason?: string,
  ): Promise<boolean> {
    const rows = await this.orm.em.getConnection().execute<{ id: string }[]>(
      `update "sweeps" set "status" = ?, "best_trial_id" = ?, "best_metric" = ?, "failure_reason" = ?,
         "finished_at" = now(), "updated_at" = now()
       where "id" = ? and "status" in (${ACTIVE}) and ${FENCE} returning "id"`,
      [
        status,
        best?.trialId ?? null,
        best?.metric ?? null,
        failureReason ?? null,
        this.sweepId,
        ...fence(this.lease),
      ],
    );
    return rows.length > 0;
  }

  private async fenced(work: (em: EntityManager) => Promise<void>): Promise<boolean> {
    try {
      await this.orm.em.fork().transactional(async (em: EntityManager) => {
        const rows = await em.execute<{ id: string }[]>(
          `update "sweeps" set "lease_until" = ${UNTIL}, "updated_at" = now() where "id" = ? and ${FENCE} returning "id"`,
          [this.leaseTtlMs, this.sweepId, ...fence(this.lease)],
        );
        if (!rows[0]) throw new Fenced();
        await work(em);
      });
      return true;
    } catch (err) {
      if (err instanceof Fenced) return false;
      throw err;
    }
  }
}
