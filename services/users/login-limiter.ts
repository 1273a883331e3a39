import pg from "pg";
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../../config.ts";
import { RateLimitedError } from "../../lib/errors.ts";

/**
 * Failed-login limits per account and per client IP, kept in PostgreSQL so that every replica counts
 * the same attempts (OWASP Authentication Cheat Sheet, "Protect against automated attacks").
 *
 * Every attempt takes a point *before* the password is checked: the store's upsert is atomic, so a
 * burst of parallel guesses cannot all slip past a read-then-write check. A success gives the points
 * back (the account counter is cleared). Once the points of a window are spent, every attempt is
 * refused with 429 — the right password included — until the window ends.
 */
export const LOGIN_LIMITS_TABLE = "login_rate_limits";

type LimitSettings = Pick<
  Config,
  "LOGIN_MAX_FAILURES_PER_ACCOUNT" | "LOGIN_MAX_FAILURES_PER_IP" | "LOGIN_FAILURE_WINDOW_S"
>;

export class LoginLimiter {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly perAccount: RateLimiterPostgres,
    private readonly perIp: RateLimiterPostgres,
  ) {}

  static async open(databaseUrl: string, settings: LimitSettings): Promise<LoginLimiter> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // An idle connection dropped by the server (a PostgreSQL restart) is reported as an 'error' event;
    // unheard, it would be an uncaught exception that ends the process. The pool discards the client.
    pool.on("error", () => undefined);
    try {
      await createTable(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    const common = {
      storeClient: pool,
      storeType: "pool",
      tableName: LOGIN_LIMITS_TABLE,
      tableCreated: true,
      duration: settings.LOGIN_FAILURE_WINDOW_S,
    };
    return new LoginLimiter(
      pool,
      new RateLimiterPostgres({
        ...common,
        keyPrefix: "account",
        points: settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      }),
      new RateLimiterPostgres({ ...common, keyPrefix: "ip", points: settings.LOGIN_MAX_FAILURES_PER_IP }),
    );
  }

  /** Takes one attempt from both budgets; throws RateLimitedError when either is spent. */
  async begin(account: string, ip: string | undefined): Promise<void> {
    await consume(this.perAccount, account);
    if (ip) {
      try {
        await consume(this.perIp, ip);
      } catch (err) {
        // The account point was taken for an attempt that will not happen.
        await this.perAccount.reward(account, 1).catch(() => {});
        throw err;
      }
    }
  }

  /** A successful login: the account starts afresh and the IP gets its point back. */
  async succeeded(account: string, ip: string | undefined): Promise<void> {
    await this.perAccount.delete(account);
    if (ip) await this.perIp.reward(ip, 1);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function consume(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key, 1);
  } catch (err) {
    if (err instanceof RateLimiterRes) {
      throw new RateLimitedError("too many failed login attempts; try again later", err.msBeforeNext / 1000);
    }
    throw err;
  }
}

/**
 * Created here rather than by the library: its own CREATE TABLE IF NOT EXISTS can fail when two
 * processes run it at once on a fresh database. A transaction-scoped advisory lock serialises them.
 */
async function createTable(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [LOGIN_LIMITS_TABLE]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${LOGIN_LIMITS_TABLE}" (
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
