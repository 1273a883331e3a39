import { loadConfig } from "../config.ts";
import { migrateCommand } from "../db/commands.ts";
import { createRootLogger } from "../lib/logger.ts";
import { type CommandSpec, type OptionTable, parseCommand } from "./command.ts";

export const MIGRATE = {
  name: "proxima migrate",
  summary: "Applies the pending database migrations.",
  options: {},
  notes:
    "To DATABASE_URL or, when it is unset, to the embedded PostgreSQL under PROXIMA_DATA_DIR (which\n" +
    "needs the server stopped: the embedded database serves one process).",
} satisfies CommandSpec<OptionTable>;

/** `proxima migrate`: applies the pending migrations to DATABASE_URL, or to the embedded server. */
export async function run(argv: string[]): Promise<number> {
  try {
    if (parseCommand(MIGRATE, argv) === null) return 0;
  } catch (err) {
    process.stderr.write(`proxima migrate: ${(err as Error).message} (try: proxima migrate --help)\n`);
    return 2;
  }
  const config = loadConfig();
  return migrateCommand(config, createRootLogger(config));
}
