import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { HeldLease, Lease, LeaseStore } from "../../actors/leased-host.ts";

/**
 * The leases of virtual actors (runs, sweeps), on the actor's own row: `owner_node`, `lease_until`
 * and the fencing epoch `lease_epoch`. Leases are timed by the database's clock (`now()`), never a
 * node's, so that clock skew between nodes cannot make two of them believe they hold one row. A
 * claim raises the epoch, and every write of an activation carries `FENCE` (its node and epoch, and
 * the lease alive), so that a host whose row was taken over writes nothing more.
 */

/** The condition every write of an activation carries: its lease is still the row's, and still alive. */
export const FENCE = `"owner_node" = ? and "lease_epoch" = ? and "lease_until" > now()`;
/** `FENCE`'s parameters. */
export const fence = (lease: Lease) => [lease.nodeID, lease.epoch];
/** A lease's end, `?` milliseconds from the database's now. */
export const UNTIL = `now() + ? * interval '1 millisecond'`;

/** Thrown inside a transaction to roll it back: the lease is no longer ours (or the row is gone). */
export class Fenced extends Error {}

/**
 * A PostgreSQL array literal: MikroORM expands a JS array bound to `?` into a list, so arrays travel
 * as one text parameter (`?::uuid[]`), each element quoted and escaped.
 */
export function pgArray(values: readonly (string | number)[]): string {
  return `{${values.map((v) => `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}

/** A table whose rows carry leases. Its name and statuses are the code's constants, never input. */
export interface LeaseTable {
  name: string;
  /** The statuses of rows that want a host: an orphan among them is claimed. */
  activeStatuses: readonly string[];
  /** More `column = value` assignments a hand-back makes (a run's runner count goes to 0). */
  onRelease?: string;
}

/** Claims one row for `nodeID` now, whatever its lease (creation, resume); the epoch goes up. */
export async function claimRow(
  em: EntityManager,
  table: LeaseTable,
  id: string,
  nodeID: string,
  leaseTtlMs: number,
): Promise<Lease | null> {
  const rows = await em.execute<{ lease_epoch: number }[]>(
    `update "${table.name}" set "owner_node" = ?, "lease_epoch" = "lease_epoch" + 1, "lease_until" = ${UNTIL}
     where "id" = ? returning "lease_epoch"`,
    [nodeID, leaseTtlMs, id],
  );
  return rows[0] ? { nodeID, epoch: rows[0].lease_epoch } : null;
}

/** The leases of one table, as a LeasedActorHost claims, renews and hands them back. */
export class PgLeaseStore implements LeaseStore {
  private readonly active: string;

  constructor(
    private readonly orm: MikroORM,
    private readonly table: LeaseTable,
    private readonly leaseTtlMs: number,
  ) {
    this.active = table.activeStatuses.map((s) => `'${s}'`).join(", ");
  }

  /**
   * Takes over active rows whose lease has expired or was handed back, at most `limit` of them: the
   * epoch goes up, so that the previous host's writes are refused from now on. `SKIP LOCKED` lets
   * several nodes scan at once without waiting on each other's rows.
   */
  async claimOrphans(nodeID: string, limit: number): Promise<{ id: string; epoch: number }[]> {
    if (limit <= 0) return [];
    const name = this.table.name;
    const rows = await this.execute<{ id: string; lease_epoch: number }>(
      `update "${name}" set "owner_node" = ?, "lease_epoch" = "lease_epoch" + 1, "lease_until" = ${UNTIL}
       where "id" in (
         select "id" from "${name}"
         where "status" in (${this.active}) and ("owner_node" is null or "lease_until" is null or "lease_until" < now())
         order by "updated_at"
         limit ? for update skip locked)
       returning "id", "lease_epoch"`,
      [nodeID, this.leaseTtlMs, limit],
    );
    return rows.map((r) => ({ id: r.id, epoch: r.lease_epoch }));
  }

  /** Renews these live leases; returns the ids renewed (the others are lost). */
  async renew(leases: readonly HeldLease[]): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const rows = await this.execute<{ id: string }>(
      `update "${this.table.name}" r set "lease_until" = ${UNTIL}
       from unnest(?::uuid[], ?::text[], ?::int[]) as l(id, node, epoch)
       where r."id" = l.id and r."owner_node" = l.node and r."lease_epoch" = l.epoch and r."lease_until" > now()
       returning r."id"`,
      [this.leaseTtlMs, ...leaseArrays(leases)],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Of these leases, the ones still valid (without renewing them: a node cut off from NATS asks this). */
  async valid(leases: readonly HeldLease[]): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const rows = await this.execute<{ id: string }>(
      `select r."id" from "${this.table.name}" r
       join unnest(?::uuid[], ?::text[], ?::int[]) as l(id, node, epoch)
         on r."id" = l.id and r."owner_node" = l.node and r."lease_epoch" = l.epoch
       where r."lease_until" > now()`,
      leaseArrays(leases),
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Hands a lease back (a clean shutdown, after the actor ended): the row is free for any node to
   * claim at once, instead of after the lease would have expired. The epoch stays: the next claim raises it.
   */
  async release(id: string, lease: Lease): Promise<boolean> {
    const extra = this.table.onRelease ? `, ${this.table.onRelease}` : "";
    const rows = await this.execute<{ id: string }>(
      `update "${this.table.name}" set "owner_node" = null, "lease_until" = null${extra}
       where "id" = ? and "owner_node" = ? and "lease_epoch" = ? returning "id"`,
      [id, ...fence(lease)],
    );
    return rows.length > 0;
  }

  private execute<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.orm.em.getConnection().execute<T[]>(sql, params);
  }
}

/** The leases as three parallel array parameters (ids, nodes, epochs) for `unnest`. */
const leaseArrays = (leases: readonly HeldLease[]) => [
  pgArray(leases.map((l) => l.id)),
  pgArray(leases.map((l) => l.lease.nodeID)),
  pgArray(leases.map((l) => l.lease.epoch)),
];
