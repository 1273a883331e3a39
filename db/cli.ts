import { loadConfig } from "../config.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createMigrationCommand, migrateCommand } from "./commands.ts";

/**
 * `npm run db:migrate` (tsx db/cli.ts migrate) and `npm run db:migration:create -- [name]`
 * (tsx db/cli.ts create [name]).
 */
const USAGE = "usage: tsx db/cli.ts migrate | create [name]\n";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "migrate" && command !== "create") {
    process.stderr.write(USAGE);
    return command === "--help" || command === "-h" ? 0 : 2;
  }
  const config = loadConfig();
  const log = createRootLogger(config);
  try {
    if (command === "migrate") return await migrateCommand(config, log);
    if (rest.length > 1) {
      process.stderr.write(USAGE);
      return 2;
    }
    return await createMigrationCommand(config, log, rest[0]);
  } catch (err) {
    log.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
