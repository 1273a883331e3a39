import type { ServiceSchema } from "moleculer";
import type { Config } from "../config.ts";
import type { Database } from "../db/index.ts";
import type { Logger } from "../lib/logger.ts";

/** What a service factory receives: the process's parsed config, its database and its root logger. */
export interface ServiceDeps {
  config: Config;
  db: Database;
  logger: Logger;
}

/** Every `services/<name>.service.ts` default-exports one of these. */
export type ServiceFactory = (deps: ServiceDeps) => ServiceSchema;
