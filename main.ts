import { ConfigError, loadConfig } from "./config.ts";
import { createRootLogger } from "./lib/logger.ts";
import { startPlatform } from "./platform.ts";

/**
 * `npm start`: one Proxima process hosting the services named in SERVICES (default: all), on the
 * embedded PostgreSQL unless DATABASE_URL is set, alone unless NATS_URL is set.
 */
const config = (() => {
  try {
    return loadConfig();
  } catch (err) {
    // A bad setting is the operator's to fix: its name and what is wrong, not a stack trace.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Proxima cannot start: ${err.message}\n`);
    process.exit(1);
  }
})();
const logger = createRootLogger(config);

const platform = await startPlatform(config, { logger }).catch((err: unknown) => {
  logger.fatal({ err }, "Proxima failed to start");
  process.exit(1);
});

logger.info(
  { services: platform.services, api: platform.apiUrl, transporter: config.NATS_URL ? "nats" : "local" },
  platform.apiUrl ? `Proxima is up: ${platform.apiUrl}` : "Proxima is up",
);

// SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C) drain: in-flight requests finish, the broker
// leaves the cluster (a `runs` process checkpoints its runs and hands their leases back, a `workers`
// process finishes its rollouts and lets its runners go), then the database (and the embedded server)
// stops. A drain that outlasts SHUTDOWN_TIMEOUT_MS exits anyway: the leases it still holds expire and
// other processes take the runs over, as after a crash. Under `npm start` one Ctrl-C
// or one `kill` reaches this process twice (directly, and relayed by npm/tsx), so only a signal that
// comes a while after the first one means "stop waiting" and forces the exit.
const FORCE_AFTER_MS = 2000;
let firstSignalAt: number | undefined;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < FORCE_AFTER_MS) return;
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.warn({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, "the drain took too long: exiting now");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    platform.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
