import { createHash } from "node:crypto";
import type pg from "pg";

/**
 * Fixed-window counters in one PostgreSQL table, shared by every replica: failed logins, known
 * clients, registrations. Each hit is one atomic upsert, so a burst of parallel requests cannot all
 * read the same count. Time comes from the caller's clock (milliseconds since the epoch), so tests
 * can turn it instead of waiting out a window.
 *
 * The table's shape (key, points, expire in ms) is the one rate-limiter-flexible's PostgreSQL store
 * used before; rows it wrote have other keys and expire by themselves.
 */
export const LIMITS_TABLE = "login_rate_limits";

export interface Count {
  points: number;
  /** When the window ends (ms since the epoch). */
  expiresAt: number;
}

export class LimitStore {
  constructor(
    private readonly pool: pg.Pool,
    readonly now: () => number,
  ) {}

  /** Counts one more in `key`'s window (a new window of `windowMs` when none is running). */
  async hit(key: string, windowMs: number): Promise<Count> {
    const now = this.now();
    const { rows } = await this.pool.query<{ points: number; expire: string }>(
      `INSERT INTO "${LIMITS_TABLE}" AS t (key, points, expire) VALUES ($1, 1, $2::bigint + $3::bigint)
       ON CONFLICT (key) DO UPDATE SET
         points = CASE WHEN t.expire IS NULL OR t.expire <= $2 THEN 1 ELSE t.points + 1 END,
         expire = CASE WHEN t.expire IS NULL OR t.expire <= $2 THEN $2::bigint + $3::bigint ELSE t.expire END
       RETURNING points, expire`,
      [key, now, windowMs],
    );
    return { points: rows[0]!.points, expiresAt: Number(rows[0]!.expire) };
  }

  /** The running window's count (0 when none runs). */
  async get(key: string): Promise<Count> {
    const now = this.now();
    const { rows } = await this.pool.query<{ points: number; expire: string }>(
      `SELECT points, expire FROM "${LIMITS_TABLE}" WHERE key = $1 AND expire > $2`,
      [key, now],
    );
    const row = rows[0];
    return row ? { points: row.points, expiresAt: Number(row.expire) } : { points: 0, expiresAt: now };
  }

  /** Gives one point back (an attempt that was counted but did not happen). */
  async refund(key: string): Promise<void> {
    await this.pool.query(`UPDATE "${LIMITS_TABLE}" SET points = GREATEST(points - 1, 0) WHERE key = $1`, [
      key,
    ]);
  }

  /** Sets `key` to one point for `ttlMs` from now (a mark, such as a known client). */
  async mark(key: string, ttlMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO "${LIMITS_TABLE}" (key, points, expire) VALUES ($1, 1, $2::bigint + $3::bigint)
       ON CONFLICT (key) DO UPDATE SET points = 1, expire = EXCLUDED.expire`,
      [key, this.now(), ttlMs],
    );
  }

  /** Drops the rows whose window has ended (they count nothing); returns how many. */
  async deleteExpired(): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM "${LIMITS_TABLE}" WHERE expire <= $1`, [
      this.now(),
    ]);
    return rowCount ?? 0;
  }

  async delete(key: string): Promise<void> {
    await this.pool.query(`DELETE FROM "${LIMITS_TABLE}" WHERE key = $1`, [key]);
  }
}

/**
 * A row key: the kind in clear, the parts hashed. Emails and addresses stay out of the table, and
 * any account name fits the 255-character key column.
 */
export function limitKey(kind: string, ...parts: string[]): string {
  return `${kind}:${createHash("sha256").update(parts.join("\0")).digest("hex")}`;
}

/**
 * Created here rather than by a library: a CREATE TABLE IF NOT EXISTS can fail when two processes
 * run it at once on a fresh database. A transaction-scoped advisory lock serialises them.
 */
export async function createLimitsTable(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [LIMITS_TABLE]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${LIMITS_TABLE}" (
         key varchar(255) PRIMARY KEY,
         points integer NOT NULL DEFAULT 0,
         expire bigint
       )`,
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
