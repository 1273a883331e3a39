import { randomBytes } from "node:crypto";
import type { PostgreSqlConnection } from "@mikro-orm/postgresql";
import pg from "pg";

/** The PostgreSQL server tests create their databases on (trust auth on this machine and in CI). */
export const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** URL of the new, empty database. */
  url: string;
  /** Drops the database, ending whatever connections are still open on it. Idempotent. */
  drop(): Promise<void>;
}

/**
 * A fresh, empty database `proxima_test_<random>` on the test server, so that test files running
 * in parallel never see each other's rows. Pair it with `t.teardown(db.drop)` (or `after.always`).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `proxima_test_${randomBytes(6).toString("hex")}`;
  await withAdmin((client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => {
      dropped ??= withAdmin(async (client) => {
        // `with (force)` (PostgreSQL 13+) terminates the remaining sessions, pools the test forgot to close included.
        await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      });
      return dropped;
    },
  };
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A learner and a running CartPole run written straight into the tables, its lease held by `ownerNode`
 * under `epoch` for a minute: for tests that play a run's host themselves, with no runs service.
 */
export async function insertLeasedRun(
  conn: Pick<PostgreSqlConnection, "execute">,
  opts: { email: string; ownerNode: string; epoch: number },
): Promise<string> {
  const [user] = await conn.execute<{ id: string }[]>(
    `insert into "users" ("id", "email", "name", "role", "password_hash", "disabled", "created_at", "updated_at")
     values (gen_random_uuid(), ?, 'Lease test', 'learner', 'x', false, now(), now()) returning "id"`,
    [opts.email],
  );
  const [run] = await conn.execute<{ id: string }[]>(
    `insert into "runs" ("id", "owner_id", "env_id", "config", "seed", "total_steps", "resources", "status",
       "owner_node", "lease_until", "lease_epoch", "version", "created_at", "updated_at")
     values (gen_random_uuid(), ?, 'CartPole-v1', '{}', 1, 1000, '{"runners":1,"envsPerRunner":1,"gpu":false}',
       'running', ?, now() + interval '1 minute', ?, 1, now(), now()) returning "id"`,
    [user!.id, opts.ownerNode, opts.epoch],
  );
  return run!.id;
}
