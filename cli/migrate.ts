import { loadConfig } from "../config.ts";
import { migrateCommand } from "../db/commands.ts";
import { createRootLogger } from "../lib/logger.ts";

/** `proxima migrate`: applies the pending migrations to DATABASE_URL, or to the embedded server. */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      "usage: proxima migrate\n\napplies the pending database migrations to DATABASE_URL or, when it is unset,\n" +
        "to the embedded PostgreSQL under PROXIMA_DATA_DIR\n",
    );
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`proxima migrate: unexpected argument "${argv[0]}" (try: proxima migrate --help)\n`);
    return 2;
  }
  const config = loadConfig();
  return migrateCommand(config, createRootLogger(config));
}
