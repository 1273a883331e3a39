import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { workerNodeIds } from "../../services/runs/runner-pool.ts";
import { startTestPlatform, type TestPlatform } from "./platform.ts";
import { waitFor } from "./wait.ts";

/** The NATS server the multi-process tests cluster over. */
export const TEST_NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
const ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * A worker process (SERVICES=workers, `slots` env-runner slots) on the cluster of `namespace`, as a
 * Kubernetes worker pod runs it, with `api`'s database. Its node id is `<namespace>-<name>`.
 */
export function spawnWorker(
  api: TestPlatform,
  namespace: string,
  opts: { name?: string; slots?: number } = {},
): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVICES: "workers",
      NATS_URL: TEST_NATS_URL,
      MOLECULER_NAMESPACE: namespace,
      NODE_ID: `${namespace}-${opts.name ?? "w1"}`,
      DATABASE_URL: api.database.url,
      WORKER_SLOTS: String(opts.slots ?? 1),
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** SIGTERM (a drain) and the exit it leads to; at once for a child that has already ended. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

export interface WorkerCluster {
  /** The controller in this process: API, accounts and the run actors with their learners. */
  controller: TestPlatform;
  namespace: string;
  workers: ChildProcess[];
}

/**
 * A cluster as `npm run cluster` lays it out: the controller in this process and `workers` worker
 * processes over NATS, up and seen by the controller before this returns; the workers are drained
 * when the test ends.
 */
export async function startWorkerCluster(
  t: ExecutionContext,
  opts: { prefix: string; workers: { name?: string; slots?: number }[]; env?: Record<string, string> },
): Promise<WorkerCluster> {
  const namespace = `${opts.prefix}-${randomBytes(4).toString("hex")}`;
  const controller = await startTestPlatform(t, {
    SERVICES: "api,users,runs",
    NATS_URL: TEST_NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    RUN_SCHEDULE_INTERVAL_MS: "100",
    ...opts.env,
  });
  const workers = opts.workers.map((w) => spawnWorker(controller, namespace, w));
  t.teardown(() => Promise.all(workers.map(stopChild)).then(() => undefined));
  await waitFor(
    async () => workerNodeIds(controller.platform.broker).length,
    (n) => n === workers.length,
    `${workers.length} worker node(s)`,
    60_000,
  );
  return { controller, namespace, workers };
}
