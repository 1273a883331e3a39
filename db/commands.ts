import type { Config } from "../config.ts";
import type { DbLogger } from "./embedded.ts";
import { MigrationError } from "./errors.ts";
import { describeUrl, openDatabase } from "./index.ts";

/**
 * The two database commands shared by `db/cli.ts` (npm scripts) and `proxima migrate`. Both work on
 * DATABASE_URL or, when it is unset, on the embedded server under PROXIMA_DATA_DIR.
 */

/** Applies the pending migrations; returns the process exit code. */
export async function migrateCommand(config: Config, log: DbLogger): Promise<number> {
  const db = await openDatabase(config, { migrate: true, logger: log });
  await db.close();
  return 0;
}

/** Turns a free-form migration name into the part of a file and class name it becomes. */
export function migrationSuffix(name: string): string {
  const suffix = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (suffix.length === 0)
    throw new MigrationError(`"${name}" has no letters or digits to name a migration with`);
  return suffix;
}

/**
 * Generates a migration from the difference between the entities and the database, after applying
 * the pending migrations to that database (the diff is against the migrated schema, so it holds
 * only what is new). Returns the exit code: 0 with or without a new file.
 */
export async function createMigrationCommand(config: Config, log: DbLogger, name?: string): Promise<number> {
  const suffix = name === undefined ? undefined : migrationSuffix(name);
  const db = await openDatabase(config, { migrate: true, logger: log });
  try {
    const result = await db.orm.migrator.create(undefined, false, false, suffix);
    if (result.fileName === "") {
      log.info(`no changes: the entities match the schema of ${describeUrl(db.url)}`);
    } else {
      log.info(
        `created db/migrations/${result.fileName} (${result.diff.up.filter(Boolean).length} statements)`,
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}
