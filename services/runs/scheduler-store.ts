import type { MikroORM } from "@mikro-orm/postgresql";
import type { Lease } from "../../actors/leased-host.ts";
import type { ObservedRun, SchedulerStore } from "../../actors/scheduler.ts";
import type { Role } from "../../contracts/roles.ts";
import { ACTIVE_STATUSES } from "../../contracts/run-status.ts";
import type { RunPool, RunQueue } from "../../contracts/runs.ts";
import { FENCE, Fenced, fence, type LeaseTable, PgLeaseStore, pgArray } from "../leases/lease-store.ts";

/** The schedulers' leases: one row per pool (db/entities/Scheduler.ts), always wanting a host. */
const SCHEDULER_LEASES: LeaseTable = { name: "schedulers", activeStatuses: ["active"] };
export const schedulerLeases = (orm: MikroORM, leaseTtlMs: number) =>
  new PgLeaseStore(orm, SCHEDULER_LEASES, leaseTtlMs);

const ACTIVE = ACTIVE_STATUSES.map((s) => `'${s}'`).join(", ");

/**
 * The store of one activation of a pool's scheduler. Its grants are written in one transaction that
 * first locks the scheduler's row under the fence (`for update`): a takeover, which must update that
 * row to raise the epoch, waits for the grants to commit and then sees them, or comes first and the
 * old scheduler's grants write nothing. So two schedulers never grant the same free slots.
 */
export class PgSchedulerStore implements SchedulerStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly id: string,
    private readonly pool: RunPool,
    private readonly lease: Lease,
  ) {}

  async observe(): Promise<{ runs: ObservedRun[]; now: number } | null> {
    const conn = this.orm.em.getConnection();
    const held = await conn.execute<{ now: number }[]>(
      `select (extract(epoch from now()) * 1000)::float8 as "now" from "schedulers" where "id" = ? and ${FENCE}`,
      [this.id, ...fence(this.lease)],
    );
    if (!held[0]) return null;
    const rows = await conn.execute<
      {
        id: string;
        owner_id: string;
        role: Role;
        runners: number;
        granted: boolean;
        queued_at: number;
        queue: RunQueue | null;
      }[]
    >(
      `select r."id", r."owner_id", u."role", (r."resources"->>'runners')::int as "runners",
              r."granted_at" is not null as "granted",
              (extract(epoch from r."queued_at") * 1000)::float8 as "queued_at", r."queue"
         from "runs" r join "users" u on u."id" = r."owner_id"
        where r."status" in (${ACTIVE}) and coalesce((r."resources"->>'gpu')::boolean, false) = ?`,
      [this.pool === "gpu"],
    );
    return {
      now: held[0].now,
      runs: rows.map((r) => ({
        id: r.id,
        ownerId: r.owner_id,
        role: r.role,
        runners: r.runners,
        granted: r.granted,
        queuedAt: r.queued_at,
        queue: r.queue,
      })),
    };
  }

  async commit(
    grants: readonly string[],
    queue: readonly { id: string; queue: RunQueue }[],
  ): Promise<{ id: string; ownerNode: string | null }[] | null> {
    try {
      return await this.orm.em.fork().transactional(async (em) => {
        const held = await em.execute<{ id: string }[]>(
          `select "id" from "schedulers" where "id" = ? and ${FENCE} for update`,
          [this.id, ...fence(this.lease)],
        );
        if (!held[0]) throw new Fenced();
        const granted =
          grants.length === 0
            ? []
            : await em.execute<{ id: string; owner_node: string | null }[]>(
                `update "runs" set "granted_at" = now(), "queue" = null
                  where "id" = any(?::uuid[]) and "status" = 'queued' and "granted_at" is null
                  returning "id", "owner_node"`,
                [pgArray(grants)],
              );
        if (queue.length > 0)
          await em.execute(
            `update "runs" r set "queue" = q."queue"
               from unnest(?::uuid[], ?::jsonb[]) as q("id", "queue")
              where r."id" = q."id" and r."status" = 'queued' and r."granted_at" is null`,
            [pgArray(queue.map((q) => q.id)), pgArray(queue.map((q) => JSON.stringify(q.queue)))],
          );
        return granted.map((g) => ({ id: g.id, ownerNode: g.owner_node }));
      });
    } catch (err) {
      if (err instanceof Fenced) return null;
      throw err;
    }
  }
}
