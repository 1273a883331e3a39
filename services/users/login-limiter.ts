import pg from "pg";
import type { Config } from "../../config.ts";
import { RateLimitedError } from "../../lib/errors.ts";
import { type Count, createLimitsTable, LimitStore, limitKey } from "./limit-store.ts";

/**
 * Failed-login throttling that an attacker cannot aim at a victim (issue 15, finding 6), after the
 * OWASP Authentication Cheat Sheet ("Login Throttling"; "Account Lockout": count failures per account
 * *and* client, and prefer a slower back-off over a lockout anyone can trigger), kept in PostgreSQL
 * so that every replica counts the same attempts:
 *
 * - per (account, client address): LOGIN_MAX_FAILURES_PER_ACCOUNT failures in a window, then 429 for
 *   that client on that account — the right password included — until the window ends. An attacker
 *   on another address does not spend the victim's budget.
 * - per account, whatever the client: LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL failures (ten times the
 *   per-client budget by default), then 429 for every client the account does not know. It slows a
 *   guesser spread over many addresses without locking out the owner...
 * - ...because a known client — an address that logged in to the account successfully within
 *   LOGIN_KNOWN_CLIENT_TTL_S (OWASP's "device cookie" idea, keyed by address) — skips the global
 *   and per-address budgets; only its own (account, client) budget applies.
 * - per client address, across accounts: LOGIN_MAX_FAILURES_PER_IP failures (password spraying);
 *   known clients are exempt, so a sprayer behind a NAT does not lock out its other users.
 *
 * Every attempt takes its points *before* the password is checked (atomic upserts), so a burst of
 * parallel guesses cannot slip past a read-then-write check; a success gives them back.
 */
export type LoginLimitSettings = Pick<
  Config,
  | "LOGIN_MAX_FAILURES_PER_ACCOUNT"
  | "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL"
  | "LOGIN_MAX_FAILURES_PER_IP"
  | "LOGIN_FAILURE_WINDOW_S"
  | "LOGIN_KNOWN_CLIENT_TTL_S"
>;

/** One login attempt in progress: what `begin` counted, for `succeeded` to give back. */
export interface LoginAttempt {
  account: string;
  ip: string | undefined;
  known: boolean;
}

/** How often expired counters are deleted (every address that ever failed a login leaves a row). */
const SWEEP_INTERVAL_MS = 5 * 60_000;

export class LoginLimiter {
  private readonly sweeper: NodeJS.Timeout;

  private constructor(
    private readonly pool: pg.Pool,
    readonly store: LimitStore,
    private readonly settings: LoginLimitSettings,
  ) {
    // Every replica sweeps; the DELETE is idempotent and cheap next to the logins that made the rows.
    this.sweeper = setInterval(() => void store.deleteExpired().catch(() => {}), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** `now`: milliseconds since the epoch; tests pass a clock they turn. */
  static async open(
    databaseUrl: string,
    settings: LoginLimitSettings,
    now: () => number = Date.now,
  ): Promise<LoginLimiter> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // An idle connection dropped by the server (a PostgreSQL restart) is reported as an 'error' event;
    // unheard, it would be an uncaught exception that ends the process. The pool discards the client.
    pool.on("error", () => undefined);
    try {
      await createLimitsTable(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new LoginLimiter(pool, new LimitStore(pool, now), settings);
  }

  /** Counts one attempt; throws RateLimitedError (naming the limit) when a budget is spent. */
  async begin(account: string, ip: string | undefined): Promise<LoginAttempt> {
    const s = this.settings;
    const windowMs = s.LOGIN_FAILURE_WINDOW_S * 1000;
    const known = ip !== undefined && (await this.store.get(knownKey(account, ip))).points > 0;
    const client = clientKey(account, ip);
    const perClient = await this.store.hit(client, windowMs);
    if (perClient.points > s.LOGIN_MAX_FAILURES_PER_ACCOUNT) {
      throw this.limited(
        "too many failed logins for this account from this address",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        s.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        perClient,
      );
    }
    if (known) return { account, ip, known };

    const global = await this.store.hit(accountKey(account), windowMs);
    if (global.points > s.LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL) {
      await this.store.refund(client);
      throw this.limited(
        "too many failed logins for this account; a client that logged in to it before may still try",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL",
        s.LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL,
        global,
      );
    }
    if (ip !== undefined) {
      const perIp = await this.store.hit(ipKey(ip), windowMs);
      if (perIp.points > s.LOGIN_MAX_FAILURES_PER_IP) {
        // The attempt will not happen: the points it took on the other budgets go back.
        await this.store.refund(client);
        await this.store.refund(accountKey(account));
        throw this.limited(
          "too many failed logins from this address",
          "LOGIN_MAX_FAILURES_PER_IP",
          s.LOGIN_MAX_FAILURES_PER_IP,
          perIp,
        );
      }
    }
    return { account, ip, known };
  }

  /** An attempt that checked no password (the node shed it): every point `begin` took goes back. */
  async abandoned(attempt: LoginAttempt): Promise<void> {
    await this.store.refund(clientKey(attempt.account, attempt.ip));
    await this.refundShared(attempt);
  }

  /**
   * A successful login: this client starts afresh on the account, the other budgets get their point
   * back, and the address becomes a known client of the account. The account's global count is not
   * cleared: a success does not undo what a distributed guesser did meanwhile.
   */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    const { account, ip } = attempt;
    await this.store.delete(clientKey(account, ip));
    await this.refundShared(attempt);
    if (ip !== undefined) {
      await this.store.mark(knownKey(account, ip), this.settings.LOGIN_KNOWN_CLIENT_TTL_S * 1000);
    }
  }

  /** The points an unknown client's attempt took on the account's and the address's budgets. */
  private async refundShared({ account, ip, known }: LoginAttempt): Promise<void> {
    if (known) return;
    await this.store.refund(accountKey(account));
    if (ip !== undefined) await this.store.refund(ipKey(ip));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.pool.end();
  }

  private limited(what: string, limit: string, value: number, count: Count): RateLimitedError {
    const seconds = (count.expiresAt - this.store.now()) / 1000;
    const err = new RateLimitedError(
      `${what}: at most ${value} failures in ${this.settings.LOGIN_FAILURE_WINDOW_S} s (${limit}); try again later`,
      seconds,
    );
    err.data = { ...(err.data as Record<string, unknown>), limit, value };
    return err;
  }
}

const clientKey = (account: string, ip: string | undefined) => limitKey("login-client", account, ip ?? "");
const accountKey = (account: string) => limitKey("login-account", account);
const ipKey = (ip: string) => limitKey("login-ip", ip);
const knownKey = (account: string, ip: string) => limitKey("login-known", account, ip);
