import { randomBytes } from "node:crypto";
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
