import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import test from "ava";
import { workerNodeIds } from "../../services/runs/runner-pool.ts";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { accountWithRole, deterministicPart, launch, metrics, tinyRun, waitForStatus } from "./helpers.ts";

const NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
const ROOT = path.resolve(import.meta.dirname, "../..");

/** A worker process (SERVICES=workers) on the cluster of `namespace`, as a Kubernetes worker pod would run. */
function spawnWorker(api: TestPlatform, namespace: string, name: string, slots: number): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVICES: "workers",
      NATS_URL,
      MOLECULER_NAMESPACE: namespace,
      NODE_ID: `${namespace}-${name}`,
      DATABASE_URL: api.database.url,
      WORKER_SLOTS: String(slots),
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

test("worker child processes over NATS serve a run's rollouts, and its metrics equal the same run in one process", async (t) => {
  const namespace = `runs-test-${randomBytes(4).toString("hex")}`;
  const cluster = await startTestPlatform(t, {
    SERVICES: "api,users,runs",
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  const workers = [spawnWorker(cluster, namespace, "w1", 1), spawnWorker(cluster, namespace, "w2", 1)];
  t.teardown(() => Promise.all(workers.map(stopChild)).then(() => undefined));
  await waitFor(
    async () => workerNodeIds(cluster.platform.broker).length,
    (n) => n === 2,
    "two worker nodes",
    60_000,
  );
  const me = await accountWithRole(cluster, "researcher");
  const body = tinyRun(6, { resources: { runners: 2 } });
  const run = await launch(cluster, me.token, body);
  const done = await waitForStatus(cluster, me.token, run.id, ["completed", "failed"]);
  t.is(done.status, "completed", done.failureReason ?? "");

  const pool = await cluster.request<{ nodeID: string; slots: number; free: number }[]>(
    "GET",
    "/api/v1/workers",
    {
      token: me.token,
    },
  );
  t.deepEqual(pool.body.map((w) => w.nodeID).sort(), [`${namespace}-w1`, `${namespace}-w2`]);
  t.true(
    pool.body.every((w) => w.slots === 1 && w.free === 1),
    "runners released after the run",
  );

  const local = await startTestPlatform(t, { SERVICES: "api,users,runs,workers", WORKER_SLOTS: "2" });
  const other = await accountWithRole(local, "researcher");
  const same = await launch(local, other.token, body);
  await waitForStatus(local, other.token, same.id, ["completed"]);
  const overNats = await metrics(cluster, me.token, run.id);
  t.is(overNats.length, 6);
  t.deepEqual(deterministicPart(overNats), deterministicPart(await metrics(local, other.token, same.id)));
});
