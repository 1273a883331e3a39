import os from "node:os";
import { type BrokerOptions, Errors, type MetricRegistry } from "moleculer";
import type { Config } from "./config.ts";
import { InProcessPrometheusReporter } from "./lib/broker-metrics.ts";
import { ProximaRegenerator } from "./lib/errors.ts";
import type { Logger } from "./lib/logger.ts";

/**
 * The broker options of every Proxima process, built from the parsed environment (config.ts).
 * One codebase, one image: the same options whether a process hosts every service on a laptop or
 * one role in a cluster. Moleculer leaves timeouts, retries and circuit breaking off by default;
 * they are on here (DESIGN.md, "Decisions").
 */
export interface NodeMetadata {
  /** Services this process hosts (its role). */
  services: string[];
  version: string;
  cpus: number;
  memoryBytes: number;
  /** Tensor backend the node's RL code uses (workers advertise it to the scheduler). */
  backend: string;
  gpu: boolean;
  /** Env runners the node may host (0 unless it hosts the workers service). */
  workerSlots: number;
}

/** A worker node's runner capacity: WORKER_SLOTS, or one slot per core. */
export function workerSlotsOf(config: Pick<Config, "WORKER_SLOTS">): number {
  return config.WORKER_SLOTS ?? os.availableParallelism();
}

export function createBrokerOptions(config: Config, services: string[], logger: Logger): BrokerOptions {
  const metadata: NodeMetadata = {
    services,
    version: process.env["npm_package_version"] ?? "0.1.0",
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    backend: config.PROXIMA_BACKEND,
    gpu: services.includes("workers") && config.WORKER_GPU,
    workerSlots: services.includes("workers") ? workerSlotsOf(config) : 0,
  };
  return {
    namespace: config.MOLECULER_NAMESPACE,
    nodeID: config.NODE_ID ?? `${os.hostname()}-${process.pid}`,
    metadata,

    logger: {
      type: "Pino",
      options: {
        level: config.LOG_LEVEL === "silent" ? false : config.LOG_LEVEL,
        // Reuse the process's root pino logger so that broker and API lines share one stream.
        createLogger: (level: string, bindings: Record<string, unknown>) =>
          logger.child({ mod: bindings["mod"], svc: bindings["svc"], nodeID: bindings["nodeID"] }, { level }),
      },
    },

    transporter: config.NATS_URL
      ? { type: "NATS", options: { url: config.NATS_URL, maxReconnectAttempts: -1 } }
      : null,
    // Binary: typed arrays (trajectories, weights) cross as bytes, never as JSON arrays.
    serializer: "CBOR",

    requestTimeout: config.REQUEST_TIMEOUT_MS,
    retryPolicy: {
      enabled: true,
      retries: 3,
      delay: 100,
      maxDelay: 2000,
      factor: 2,
      // Retry only what was certainly not executed (no node, node gone, rejected). A timed-out
      // call may have run: retrying it could do a non-idempotent thing twice.
      check: (err: Errors.MoleculerError | Error) =>
        err instanceof Errors.MoleculerError && err.retryable && err.type !== "REQUEST_TIMEOUT",
    },
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      // Client errors (4xx: validation, not found, conflicts) say nothing about a node's health, and
      // a node that sheds load on purpose (OVERLOADED, services/users/hash-gate.ts) is healthy: an
      // open breaker would refuse the requests it still has room for.
      check: (err: Errors.MoleculerError | Error) =>
        !(
          err instanceof Errors.MoleculerError &&
          ((err.code >= 400 && err.code < 500) || err.type === "OVERLOADED")
        ),
    },
    // Actions parse their params with their contracts' zod schemas (services/action.ts): one validator.
    validator: false,
    // Typed errors (lib/errors.ts) cross NATS as their own classes, so the API maps them to their status.
    errorRegenerator: new ProximaRegenerator(),
    // Graceful shutdown: stop() waits for in-flight requests before services stop.
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    heartbeatInterval: config.HEARTBEAT_INTERVAL_S,
    heartbeatTimeout: config.HEARTBEAT_TIMEOUT_S,

    // The API serves broker metrics on its own /metrics (api/), so the reporter must not listen.
    metrics: {
      enabled: true,
      reporter: [
        new InProcessPrometheusReporter({
          includes: ["moleculer.**", "process.**", "os.**"],
        }) as unknown as MetricRegistry.MetricsReporter,
      ],
    },
    // Signals are handled by the platform so that the database closes after the broker drains.
    skipProcessEventRegistration: true,
  };
}
