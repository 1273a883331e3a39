import test from "ava";
import pg from "pg";
import { startCluster } from "../faults/helpers.ts";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { accountWithRole } from "../runs/helpers.ts";
import { createSweep, getSweep, runsOf, tinySweep } from "./helpers.ts";

async function sweepHost(databaseUrl: string, sweepId: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query(`select owner_node from sweeps where id = $1`, [sweepId]);
    return r.rows[0]?.owner_node ?? null;
  } finally {
    await client.end();
  }
}

test("killing the sweep's host mid-sweep: another node takes it over and every trial runs exactly once", async (t) => {
  allowLongTest(t);
  // The API in this process, runs and workers in one child, the sweeps service in two others.
  const c = await startCluster(t, { env: { SWEEP_POLL_MS: "100" } });
  c.spawn("runs", "runs,workers", { WORKER_SLOTS: "2" });
  const sweepsNodes = [c.spawn("s1", "sweeps"), c.spawn("s2", "sweeps")];
  await Promise.all([c.waitForNodes("runs", 1), c.waitForNodes("sweeps", 2)]);
  const cluster = c.api;

  const me = await accountWithRole(cluster, "researcher");
  const body = tinySweep(30, {
    searchSpace: { learningRate: { values: [1e-3, 3e-4, 1e-4] }, clipCoef: { values: [0.1, 0.2] } },
    maxTrials: 6,
  });
  const sweep = await createSweep(cluster, me.token, body);
  const before = await waitFor(
    () => getSweep(cluster, me.token, sweep.id),
    (s) => s.trialCounts["running"]! + s.trialCounts["completed"]! >= 3,
    "the sweep under way",
    120_000,
  );
  t.true(before.trialCounts["pending"]! > 0, "killed mid-sweep, with trials still to launch");
  const host = await sweepHost(cluster.database.url, sweep.id);
  const victim = sweepsNodes.find((n) => n.nodeID === host);
  t.truthy(victim, `the sweep's host ${host} is one of the children`);
  await victim!.kill9();

  // Reads may time out (504) while the dead node is still in the registry: they are retried.
  const done = await waitFor(
    () => getSweep(cluster, me.token, sweep.id).catch(() => null),
    (s) => s !== null && (s.status === "completed" || s.status === "failed"),
    "the sweep to finish",
    RUN_DEADLINE_MS,
  ).then((s) => s!);
  t.is(done.status, "completed");
  t.not(await sweepHost(cluster.database.url, sweep.id), host, "another node finished it");
  t.is(done.trials.length, 6);
  t.true(
    done.trials.every((x) => x.status === "completed" && x.steps === 128 * 30),
    JSON.stringify(done.trials.map((x) => [x.status, x.steps])),
  );
  const runs = await runsOf(cluster.database.url, me.id);
  t.is(runs.length, 6, "no trial was launched twice");
  t.deepEqual(runs.map((r) => r.id).sort(), done.trials.map((x) => x.runId).sort());
});
