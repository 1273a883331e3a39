import type { EntityManager } from "@mikro-orm/postgresql";

/**
 * The one way a per-user quota is made to hold under concurrency: count and insert in one
 * transaction that first takes a transaction-scoped advisory lock on (scope, user)
 * (PostgreSQL `pg_advisory_xact_lock`, released at commit or rollback). Requests of one user, on any
 * number of nodes, then count one after the other, each seeing the rows the previous one committed
 * (READ COMMITTED takes a new snapshot per statement), so none slips past a limit. Other users
 * never wait on it (a hash collision of two keys only serialises them).
 */
export type UserLockScope = "runs" | "sweeps" | "submissions";

/** Call first inside the transaction whose count and insert it guards. */
export async function lockUserQuota(tx: EntityManager, scope: UserLockScope, userId: string): Promise<void> {
  // The key's text is the one submissions used since they took this lock ("proxima.submissions:<id>"),
  // so that nodes of the previous version and of this one exclude each other during a rollout.
  await tx.execute("select pg_advisory_xact_lock(hashtext(?))", [`proxima.${scope}:${userId}`]);
}
