import { randomBytes } from "node:crypto";
import test from "ava";
import { workerNodeIds } from "../../services/runs/runner-pool.ts";
import { startTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { TEST_NATS_URL as NATS_URL, spawnWorker, stopChild } from "../helpers/workers.ts";
import { accountWithRole, deterministicPart, launch, metrics, tinyRun, waitForStatus } from "./helpers.ts";

test("worker child processes over NATS serve a run's rollouts, and its metrics equal the same run in one process", async (t) => {
  const namespace = `runs-test-${randomBytes(4).toString("hex")}`;
  const cluster = await startTestPlatform(t, {
    SERVICES: "api,users,runs",
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  const workers = [
    spawnWorker(cluster, namespace, { name: "w1", slots: 1 }),
    spawnWorker(cluster, namespace, { name: "w2", slots: 1 }),
  ];
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
