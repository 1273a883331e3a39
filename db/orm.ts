import path from "node:path";
import { Migrator } from "@mikro-orm/migrations";
import { defineConfig, type Options } from "@mikro-orm/postgresql";
import type { Config } from "../config.ts";
import { entities } from "./entities/index.ts";
import { HouseStyleMigrationGenerator } from "./migration-generator.ts";

/**
 * Beside this file in both layouts: `db/migrations/*.ts` when run from source, and
 * `dist/db/migrations/*.js` after `npm run build` (the default glob takes either).
 */
export const MIGRATIONS_DIR = path.join(import.meta.dirname, "migrations");

export interface OrmOptionsExtra {
  /** The process's log level; the ORM logs its queries only at `debug` and `trace`. */
  logLevel?: Config["LOG_LEVEL"];
  /** Where the ORM's debug lines go; stderr when not given. */
  log?: (message: string) => void;
  /** Size of the connection pool (pg's default is 10). */
  poolMax?: number;
}

/** The ORM's namespaces to log at a given level: queries at debug; their parameters and discovery at trace. */
function debugNamespaces(level: Config["LOG_LEVEL"] | undefined): Options["debug"] {
  if (level === "trace") return true;
  if (level === "debug") return ["query", "info"];
  return false;
}

/** MikroORM options for the PostgreSQL database at `url`, with Proxima's entities and migrations. */
export function ormOptions(url: string, opts: OrmOptionsExtra = {}): Options {
  return defineConfig({
    clientUrl: url,
    entities,
    extensions: [Migrator],
    // Forgetting `em.fork()` must fail loudly: a shared identity map leaks entities between requests.
    allowGlobalContext: false,
    debug: debugNamespaces(opts.logLevel),
    logger: opts.log ?? ((message) => process.stderr.write(`${message}\n`)),
    colors: false,
    pool: opts.poolMax === undefined ? undefined : { max: opts.poolMax },
    migrations: {
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      emit: "ts",
      generator: HouseStyleMigrationGenerator,
      // Without a snapshot, `create` diffs the entities against the migrated database itself, and
      // applying migrations never rewrites files in the source tree (or fails on a read-only image).
      snapshot: false,
      silent: opts.logLevel !== "debug" && opts.logLevel !== "trace",
      transactional: true,
      allOrNothing: true,
    },
  });
}
