import test from "ava";
import { call } from "../../services/actions.ts";
import { insertLeasedRun } from "../helpers/db.ts";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * A runs node that lost a run's lease in an outage and took the run back holds it under a new epoch;
 * the release its old activation sent was lost with the outage. The worker must see the old
 * activation's runners as orphans although the node is the same, or the run waits for its own slots
 * forever (what `faults › infra › NATS restarted mid-run` once hit on CI).
 */
async function setup(t: import("ava").ExecutionContext) {
  // A worker of one slot and no runs service: nothing here claims the run, the test plays its host.
  // A short lease: the worker checks its runners' runs once per lease TTL.
  const p = await startTestPlatform(t, {
    SERVICES: "api,users,workers",
    WORKER_SLOTS: "1",
    RUN_LEASE_TTL_MS: "1000",
  });
  const conn = p.platform.db.orm.em.getConnection();
  const runId = await insertLeasedRun(conn, { email: "epochs@example.org", ownerNode: "runs-a", epoch: 1 });
  // What claimOrphans does when the same node takes its expired lease back.
  const retake = () =>
    conn.execute(`update "runs" set "lease_epoch" = "lease_epoch" + 1 where "id" = ?`, [runId]);
  const reserve = (epoch: number) =>
    call(p.platform.broker, "workers.reserve", { runId, ownerNode: "runs-a", epoch, count: 1 });
  return { p, runId, retake, reserve };
}

const freeSlots = async (p: TestPlatform) => (await call(p.platform.broker, "workers.status", {})).free;

test("a run retaken by the same node under a new epoch gets the slot its old activation held", async (t) => {
  const { p, retake, reserve } = await setup(t);
  t.is((await reserve(1)).runnerIds.length, 1);
  t.is(await freeSlots(p), 0);
  // The old activation asks again: its own runner is not an orphan, and the node is full.
  t.deepEqual((await reserve(1)).runnerIds, []);

  await retake();
  const granted = await reserve(2);
  t.is(granted.runnerIds.length, 1, "the old activation's runner was freed for the new one");
  const status = await call(p.platform.broker, "workers.status", {});
  t.deepEqual(
    status.runners.map((r) => r.id),
    granted.runnerIds,
  );
});

test("an older activation's runner is not freed on the word of a caller the database does not confirm", async (t) => {
  const { p, reserve } = await setup(t);
  t.is((await reserve(1)).runnerIds.length, 1);
  // Epoch 2 is not the run's (the row still says 1): a stale or mistaken caller frees nothing.
  t.deepEqual((await reserve(2)).runnerIds, []);
  t.is(await freeSlots(p), 0);
});

test("the worker's periodic check frees the runners of an activation whose epoch is gone", async (t) => {
  const { p, retake, reserve } = await setup(t);
  t.is((await reserve(1)).runnerIds.length, 1);
  await retake();
  await waitFor(
    () => freeSlots(p),
    (free) => free === 1,
    "the worker to free the old activation's runner",
  );
  t.pass();
});
