import test from "ava";
import { startTestPlatform } from "../helpers/platform.ts";
import { startWorkerCluster } from "../helpers/workers.ts";
import { accountWithRole, deterministicPart, launch, metrics, tinyRun, waitForStatus } from "./helpers.ts";

test("worker child processes over NATS serve a run's rollouts, and its metrics equal the same run in one process", async (t) => {
  const { controller: cluster, namespace } = await startWorkerCluster(t, {
    prefix: "runs-test",
    workers: [
      { name: "w1", slots: 1 },
      { name: "w2", slots: 1 },
    ],
  });
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
