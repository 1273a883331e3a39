import { ServiceBroker } from "moleculer";
import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/index.ts";
import { resolveAccelerator } from "./lib/accelerator.ts";
import { type HealthServer, startHealthServer } from "./lib/health-server.ts";
import { createRootLogger, type Logger } from "./lib/logger.ts";
import { createBrokerOptions } from "./moleculer.config.ts";
import type { ServiceFactory } from "./services/deps.ts";
import { addMetricsSource, processMetricsText } from "./services/metrics.ts";

/**
 * One Proxima process: its database, its broker and the services it hosts (`SERVICES`).
 * `main.ts` starts one for `npm start`; tests start several in one process or in children.
 */

/** Every service a process may host, imported only when hosted (a worker need not load Koa). */
const SERVICE_FACTORIES: Record<string, () => Promise<ServiceFactory>> = {
  users: async () => (await import("./services/users.service.ts")).default,
  api: async () => (await import("./api/api.service.ts")).default,
  runs: async () => (await import("./services/runs.service.ts")).default,
  workers: async () => (await import("./services/workers.service.ts")).default,
  tickets: async () => (await import("./services/tickets.service.ts")).default,
  sweeps: async () => (await import("./services/sweeps.service.ts")).default,
  submissions: async () => (await import("./services/submissions.service.ts")).default,
};

export const KNOWN_SERVICES = Object.keys(SERVICE_FACTORIES);

export class UnknownServiceError extends Error {
  override name = "UnknownServiceError";
}

/** Expands "all" and checks every name, so a typo in SERVICES fails the start instead of hosting less. */
export function resolveServices(requested: readonly string[]): string[] {
  const names = requested.includes("all") ? KNOWN_SERVICES : [...new Set(requested)];
  const unknown = names.filter((n) => !(n in SERVICE_FACTORIES));
  if (unknown.length > 0 || names.length === 0) {
    throw new UnknownServiceError(
      `SERVICES must name some of ${KNOWN_SERVICES.join(", ")} (or "all"); unknown: ${unknown.join(", ") || "(none given)"}`,
    );
  }
  return names;
}

export interface Platform {
  broker: ServiceBroker;
  db: Database;
  config: Config;
  logger: Logger;
  services: string[];
  /** Base URL of the HTTP API when this process hosts it. */
  apiUrl?: string;
  /** Base URL of the probe/metrics endpoint (HEALTH_PORT) when this process serves one. */
  healthUrl?: string;
  /** Drains the broker (in-flight requests finish), then closes the database. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  services?: string[];
  logger?: Logger;
}

export async function startPlatform(config: Config, opts: StartOptions = {}): Promise<Platform> {
  const logger = opts.logger ?? createRootLogger(config);
  const services = resolveServices(opts.services ?? config.SERVICES);
  // A worker advertises a GPU and the tensorflow backend only if that backend loads here.
  config = await resolveAccelerator(config, services, logger);
  const db = await openDatabase(config, { logger });
  const broker = new ServiceBroker(createBrokerOptions(config, services, logger));
  // The scrape-time gauges (database, runs, draining) read this process's broker and database.
  const metricsSource = addMetricsSource({ broker, db, services });
  // The probe/metrics port listens before the broker connects (alive, not ready). An API process
  // scrapes its HTTP metrics there too: in production /metrics is not on the public port.
  let health: HealthServer | undefined;
  try {
    if (config.HEALTH_PORT !== undefined) {
      health = await startHealthServer(broker, config.HOST, config.HEALTH_PORT, () =>
        processMetricsText(broker),
      );
    }
    for (const name of services) {
      const factory = await SERVICE_FACTORIES[name]!();
      broker.createService(factory({ config, db, logger }));
    }
    await broker.start();
  } catch (err) {
    metricsSource.remove();
    await broker.stop().catch(() => {});
    await health?.close();
    await db.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const api = services.includes("api")
    ? (broker.getLocalService("api") as unknown as { url?: string })
    : undefined;
  return {
    broker,
    db,
    config,
    logger,
    services,
    apiUrl: api?.url,
    healthUrl: health?.url,
    stop() {
      stopping ??= (async () => {
        metricsSource.drain();
        try {
          // The API drains first, while the broker still reaches the nodes its requests call.
          await (api as { drain?: () => Promise<void> } | undefined)?.drain?.();
          await broker.stop();
        } finally {
          metricsSource.remove();
          await health?.close();
          await db.close();
        }
      })();
      return stopping;
    },
  };
}
