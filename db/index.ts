import { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Config } from "../config.ts";
import { type DbLogger, type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded.ts";
import { MigrationError } from "./errors.ts";
import { ormOptions } from "./orm.ts";

export type { DbLogger } from "./embedded.ts";
export {
  DatabaseError,
  EmbeddedPostgresError,
  EmbeddedPostgresInUseError,
  MigrationError,
} from "./errors.ts";

export interface Database {
  orm: MikroORM;
  /** The connection URL in use (it may carry a password: log `describeUrl(url)` instead). */
  url: string;
  /** True when this process started the embedded server (DATABASE_URL unset). */
  embedded: boolean;
  /** `select 1` within PING_TIMEOUT_MS; false rather than an error, for /readyz. */
  ping(): Promise<boolean>;
  /** Closes the ORM, then stops the embedded server if this process started it. Idempotent. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  logger?: DbLogger;
  /** Size of the connection pool (pg's default is 10). */
  poolMax?: number;
}

export type DatabaseConfig = Pick<
  Config,
  "DATABASE_URL" | "PROXIMA_DATA_DIR" | "EMBEDDED_PG_PORT" | "LOG_LEVEL"
>;

export const PING_TIMEOUT_MS = 2_000;
const silent: DbLogger = { info() {}, warn() {}, error() {} };

/**
 * Connects to DATABASE_URL, or starts the embedded server under PROXIMA_DATA_DIR when it is unset,
 * and brings the schema up to date.
 */
export async function openDatabase(
  config: DatabaseConfig,
  opts: OpenDatabaseOptions = {},
): Promise<Database> {
  const log = opts.logger ?? silent;
  let server: EmbeddedPostgres | undefined;
  let url = config.DATABASE_URL;
  if (url === undefined || url === "") {
    server = await startEmbeddedPostgres({
      dataDir: config.PROXIMA_DATA_DIR,
      port: config.EMBEDDED_PG_PORT,
      logger: log,
    });
    url = server.url;
  } else {
    log.info(`connecting to PostgreSQL at ${describeUrl(url)}`);
  }

  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(
      ormOptions(url, {
        logLevel: config.LOG_LEVEL,
        log: (message) => (log.debug ?? log.info).call(log, message),
        poolMax: opts.poolMax,
      }),
    );
    if (opts.migrate ?? true) await applyMigrations(orm, log);
  } catch (err) {
    await orm?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    throw err;
  }

  const opened = orm;
  let closing: Promise<void> | undefined;
  return {
    orm: opened,
    url,
    embedded: server !== undefined,
    // After close, MikroORM would quietly open a new pool for the query: answer without asking.
    ping: async () => (closing === undefined ? ping(opened) : false),
    close: () => {
      closing ??= (async () => {
        try {
          await opened.close();
        } finally {
          if (server) {
            await server.stop();
            log.info("stopped embedded PostgreSQL");
          }
        }
      })();
      return closing;
    },
  };
}

/** Applies the pending migrations, in one transaction; returns their names. */
/** Key of the session-level advisory lock that serialises migrations ("prox" in ASCII). */
const MIGRATION_LOCK_KEY = 0x70726f78;

/**
 * Applies pending migrations. Several processes may start at once on one database (a cluster's
 * first start, a Helm rollout): they take turns under a PostgreSQL advisory lock, so the first
 * applies and the others find the schema up to date instead of racing on the same DDL.
 */
export async function applyMigrations(orm: MikroORM, log: DbLogger = silent): Promise<string[]> {
  let applied: string[];
  try {
    applied = await withMigrationLock(orm.config.get("clientUrl") as string, async () =>
      (await orm.migrator.up()).map((m) => m.name),
    );
  } catch (err) {
    throw new MigrationError(`migrations failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  log.info(
    applied.length === 0
      ? "database schema is up to date"
      : `applied ${applied.length} migration(s): ${applied.join(", ")}`,
  );
  return applied;
}

async function withMigrationLock<T>(url: string, fn: () => Promise<T>): Promise<T> {
  // Its own connection: a session lock must outlive the pool connections the migrator borrows.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    return await fn();
  } finally {
    await client.end().catch(() => undefined); // ending the session releases the lock
  }
}

async function ping(orm: MikroORM): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  const query = orm.em
    .fork()
    .getConnection()
    .execute("select 1 as ok")
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `host:port/database` of a connection URL, without its credentials, for logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}
