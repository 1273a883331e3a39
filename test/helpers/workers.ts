import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { TestPlatform } from "./platform.ts";

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
