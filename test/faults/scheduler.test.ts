import test from "ava";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { getRun, launch, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { type Cluster, startCluster } from "./helpers.ts";

/** The CPU pool's scheduler lease as the database has it. */
async function schedulerLease(c: Cluster): Promise<{ owner_node: string | null; lease_epoch: number }> {
  const rows = await c.api.platform.db.orm.em
    .getConnection()
    .execute<{ owner_node: string | null; lease_epoch: number }[]>(
      `select "owner_node", "lease_epoch" from "schedulers" where "pool" = 'cpu'`,
    );
  return rows[0]!;
}

/** When a run was granted its slots and when it ended (the database's clock, ms). */
async function grantOf(c: Cluster, runId: string): Promise<{ granted: number; finished: number }> {
  const rows = await c.api.platform.db.orm.em
    .getConnection()
    .execute<{ granted: number; finished: number }[]>(
      `select (extract(epoch from "granted_at") * 1000)::float8 as "granted",
              (extract(epoch from "finished_at") * 1000)::float8 as "finished" from "runs" where "id" = ?`,
      [runId],
    );
  return rows[0]!;
}

test("kill -9 of the process whose runs service schedules the CPU pool: the other runs process takes the scheduler's lease over and keeps scheduling, granting the freed slot once", async (t) => {
  allowLongTest(t);
  const c = await startCluster(t);
  const controllers = [c.spawn("r1", "runs"), c.spawn("r2", "runs")];
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 2), c.waitForNodes("workers", 1)]);
  const before = await waitFor(
    () => schedulerLease(c),
    (l) => l.owner_node !== null,
    "a runs process to take the CPU pool's scheduler",
  );
  const admin = (await c.api.loginAdmin()).accessToken;

  const first = await launch(c.api, admin, tinyRun(40));
  await waitFor(
    () => getRun(c.api, admin, first.id),
    (r) => r.iteration >= 1,
    "the first run to hold the one slot",
  );
  const second = await launch(c.api, admin, tinyRun(2));
  const queued = await waitFor(
    () => getRun(c.api, admin, second.id),
    (r) => r.queue !== null,
    "the second run's place in the queue",
  );
  t.like(queued.queue, { position: 1, poolSlots: 1, freeSlots: 0 });

  const scheduler = controllers.find((h) => h.nodeID === before.owner_node)!;
  const other = controllers.find((h) => h !== scheduler)!;
  await scheduler.kill9();
  const after = await waitFor(
    () => schedulerLease(c),
    (l) => l.owner_node === other.nodeID,
    "the other runs process to take the scheduler over",
  );
  t.is(after.lease_epoch, before.lease_epoch + 1, "exactly one takeover");

  t.is(
    (await waitForStatus(c.api, admin, first.id, ["completed", "failed"], RUN_DEADLINE_MS)).status,
    "completed",
  );
  t.is(
    (await waitForStatus(c.api, admin, second.id, ["completed", "failed"], RUN_DEADLINE_MS)).status,
    "completed",
  );
  // The new scheduler counted the first run's durable grant: the second got the slot only once it was free.
  const [a, b] = await Promise.all([grantOf(c, first.id), grantOf(c, second.id)]);
  t.true(b.granted >= a.finished, "the second run was granted the slot after the first run ended");
});
