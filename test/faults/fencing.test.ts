import test from "ava";
import { openDatabase } from "../../db/index.ts";
import { PgRunStore, runLeases } from "../../services/runs/store.ts";
import { createTestDatabase, insertLeasedRun } from "../helpers/db.ts";

/** The lease store against real PostgreSQL: what a host that lost its lease can and cannot write. */
async function setup(t: import("ava").ExecutionContext) {
  const database = await createTestDatabase();
  const db = await openDatabase({
    DATABASE_URL: database.url,
    PROXIMA_DATA_DIR: ".data",
    EMBEDDED_PG_PORT: 54329,
    LOG_LEVEL: "silent",
  });
  t.teardown(async () => {
    await db.close();
    await database.drop();
  });
  const conn = db.orm.em.getConnection();
  const runId = await insertLeasedRun(conn, { email: "fence@example.org", ownerNode: "a", epoch: 1 });
  const point = (iteration: number, value: number) => ({
    iteration,
    globalStep: iteration * 128,
    metrics: { "losses/value_loss": value },
  });
  const checkpoint = (iteration: number) => ({
    iteration,
    globalStep: iteration * 128,
    bytes: new Uint8Array([1, 2, 3]),
    runnerStates: [],
  });
  const count = async (table: string) =>
    (
      await conn.execute<{ n: number }[]>(`select count(*)::int as n from "${table}" where "run_id" = ?`, [
        runId,
      ])
    )[0]!.n;
  const expire = () =>
    conn.execute(`update "runs" set "lease_until" = now() - interval '1 second' where "id" = ?`, [runId]);
  return { orm: db.orm, conn, runId, point, checkpoint, count, expire };
}

test("a host whose lease was taken over can no longer write: points, checkpoints, status and runner counts are refused and nothing changes", async (t) => {
  const { orm, runId, point, checkpoint, count, expire } = await setup(t);
  const a = new PgRunStore(orm, { nodeID: "a", epoch: 1 }, 60_000);
  t.is(await a.recordIteration(runId, point(1, 1), 1), "running");
  t.true(await a.saveCheckpoint(runId, checkpoint(1)));

  await expire();
  const claimed = await runLeases(orm, 60_000).claimOrphans("b", 10);
  t.deepEqual(claimed, [{ id: runId, epoch: 2 }]);

  t.is(await a.recordIteration(runId, point(2, 2), 1), null);
  t.false(await a.saveCheckpoint(runId, checkpoint(2)));
  t.false(await a.transition(runId, "running", "completed"));
  t.false(await a.setRunnersActive(runId, 0));
  t.is(await a.status(runId), null);
  t.is(await count("metric_points"), 1, "the refused point was not written");
  t.is(await count("checkpoints"), 1, "the refused checkpoint was not written");
  t.deepEqual(
    [...(await runLeases(orm, 60_000).renew([{ id: runId, lease: { nodeID: "a", epoch: 1 } }]))],
    [],
  );

  const b = new PgRunStore(orm, { nodeID: "b", epoch: 2 }, 60_000);
  t.is(await b.status(runId), "running");
  // The new host replays iteration 1 from the checkpoint: its row is overwritten, not duplicated.
  t.is(await b.recordIteration(runId, point(1, 10), 1), "running");
  t.is(await count("metric_points"), 1);
  t.true(await b.transition(runId, "running", "completed"));
  t.is(await b.status(runId), "completed");
});

test("a lease that expired without a takeover fences its host too, and a claim never takes a live lease", async (t) => {
  const { orm, runId, point, expire } = await setup(t);
  const a = new PgRunStore(orm, { nodeID: "a", epoch: 1 }, 60_000);
  t.deepEqual(await runLeases(orm, 60_000).claimOrphans("b", 10), [], "a live lease is not claimable");
  await expire();
  t.is(await a.recordIteration(runId, point(1, 1), 1), null, "an expired lease writes nothing");
  t.false(await a.transition(runId, "running", "failed"));
});

test("a lease handed back is claimable at once, and the claim raises the epoch", async (t) => {
  const { orm, runId } = await setup(t);
  t.true(await runLeases(orm, 60_000).release(runId, { nodeID: "a", epoch: 1 }));
  t.deepEqual(await runLeases(orm, 60_000).claimOrphans("b", 10), [{ id: runId, epoch: 2 }]);
  t.false(
    await runLeases(orm, 60_000).release(runId, { nodeID: "a", epoch: 1 }),
    "the old host cannot hand back what it lost",
  );
});
