import test from "ava";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { deterministicPart, getRun, launch, metrics, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { assertSoundCompletion, type Cluster, leaseOf, startCluster, startRelay } from "./helpers.ts";

const ITERATIONS = 150;
const body = tinyRun(ITERATIONS, { resources: { runners: 2 } });

async function reference(c: Cluster, token: string) {
  const ref = await launch(c.api, token, body);
  await waitForStatus(c.api, token, ref.id, ["completed", "failed"], RUN_DEADLINE_MS);
  return deterministicPart(await metrics(c.api, token, ref.id));
}

test("kill -9 of the process hosting a run: another runs process takes it over from its last checkpoint and completes it, with unique, gap-free metrics equal to an undisturbed run's", async (t) => {
  allowLongTest(t);
  const c = await startCluster(t);
  const controllers = [c.spawn("r1", "runs"), c.spawn("r2", "runs")];
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 2), c.waitForNodes("workers", 2)]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const expected = await reference(c, admin);

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => getRun(c.api, admin, run.id),
    (r) => r.iteration >= 15,
    "fifteen iterations",
  );
  const before = await leaseOf(c.api, run.id);
  const host = controllers.find((h) => h.nodeID === before.owner_node)!;
  const other = controllers.find((h) => h !== host)!;
  await host.kill9();
  await waitFor(
    () => leaseOf(c.api, run.id),
    (l) => l.owner_node === other.nodeID,
    "the other runs process to take the run over",
  );
  const done = await waitForStatus(c.api, admin, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
  const after = await leaseOf(c.api, run.id);
  t.is(after.lease_epoch, before.lease_epoch + 1, "exactly one takeover");
});

test("SIGTERM on the process hosting a run hands its lease back: the other runs process takes it over long before the lease would have expired, and the run completes as if undisturbed", async (t) => {
  allowLongTest(t);
  // A long lease: a takeover that waited for expiry would come 30 s after the last renewal.
  const c = await startCluster(t, { env: { RUN_LEASE_TTL_MS: "30000" } });
  const controllers = [c.spawn("r1", "runs"), c.spawn("r2", "runs")];
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 2), c.waitForNodes("workers", 2)]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const expected = await reference(c, admin);

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => getRun(c.api, admin, run.id),
    (r) => r.iteration >= 15,
    "fifteen iterations",
  );
  const before = await leaseOf(c.api, run.id);
  const host = controllers.find((h) => h.nodeID === before.owner_node)!;
  const other = controllers.find((h) => h !== host)!;
  t.is(await host.term(), 0, "the drained controller exits cleanly");
  const taken = await waitFor(
    () => leaseOf(c.api, run.id),
    (l) => l.owner_node === other.nodeID,
    "the other runs process to take the run over",
  );
  // The database's own clock: the takeover happened while the old lease was still valid.
  const rows = await c.api.platform.db.orm.em
    .getConnection()
    .execute<{ early: boolean }[]>(`select now() < ?::timestamptz as "early"`, [before.lease_until]);
  t.true(rows[0]?.early, "taken over before the handed-back lease would have expired");
  t.is(taken.lease_epoch, before.lease_epoch + 1);
  const done = await waitForStatus(c.api, admin, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
});

test("a runs process cut off from NATS but alive loses its lease and stops its actor; the run is continued elsewhere exactly once and completes as if undisturbed", async (t) => {
  allowLongTest(t);
  const c = await startCluster(t);
  // Both runs processes reach NATS through relays of their own, and both are up before the run: the
  // one that hosts it is cut off the moment it has made fifteen iterations, with no process start
  // between that moment and the cut for the run to finish in.
  const relays = [await startRelay(c.natsUrl), await startRelay(c.natsUrl)];
  t.teardown(() => Promise.all(relays.map((r) => r.close())).then(() => undefined));
  const controllers = relays.map((r, i) => c.spawn(`r${i + 1}`, "runs", { NATS_URL: r.url }));
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 2), c.waitForNodes("workers", 2)]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const expected = await reference(c, admin);

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => getRun(c.api, admin, run.id),
    (r) => r.iteration >= 15,
    "fifteen iterations",
  );
  const before = await leaseOf(c.api, run.id);
  const hostIndex = controllers.findIndex((h) => h.nodeID === before.owner_node);
  t.not(hostIndex, -1, "one of the runs processes hosts the run");
  const isolated = controllers[hostIndex]!;
  const successor = controllers[1 - hostIndex]!;
  const relay = relays[hostIndex]!;
  await relay.cut();
  const taken = await waitFor(
    () => leaseOf(c.api, run.id),
    (l) => l.owner_node === successor.nodeID,
    "the connected runs process to take the run over",
  );
  t.is(taken.lease_epoch, before.lease_epoch + 1);
  await waitFor(
    async () => isolated.logs(),
    (logs) => logs.includes("lost the run's lease"),
    "the isolated process to end its actor",
  );
  t.is(isolated.process.exitCode, null, "the isolated process is still alive");
  await relay.restore();
  // While the partition heals, a read balanced to the rejoining node can time out (504) once; the
  // run's continuation, not the API's availability during the heal, is what this test checks.
  const done = await waitFor(
    () =>
      getRun(c.api, admin, run.id).catch((err: Error) =>
        /: 504 /.test(err.message) ? null : Promise.reject(err),
      ),
    (r) => r !== null && ["completed", "failed"].includes(r.status),
    "the run to end after the partition healed",
    RUN_DEADLINE_MS,
  ).then((r) => r!);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
  const after = await leaseOf(c.api, run.id);
  t.is(after.lease_epoch, before.lease_epoch + 1, "continued exactly once: no further takeover");
  t.is(after.owner_node, successor.nodeID);
});
