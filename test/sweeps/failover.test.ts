import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import test from "ava";
import pg from "pg";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { accountWithRole } from "../runs/helpers.ts";
import { createSweep, getSweep, runsOf, tinySweep } from "./helpers.ts";

const NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
const ROOT = path.resolve(import.meta.dirname, "../..");
const LEASE_MS = "2000";

/** A process hosting only the sweeps service, on the cluster of `namespace`. */
function spawnSweepsNode(api: TestPlatform, namespace: string, name: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVICES: "sweeps",
      NATS_URL,
      MOLECULER_NAMESPACE: namespace,
      NODE_ID: `${namespace}-${name}`,
      DATABASE_URL: api.database.url,
      RUN_LEASE_TTL_MS: LEASE_MS,
      RUN_SCHEDULE_INTERVAL_MS: "100",
      SWEEP_POLL_MS: "100",
      HEARTBEAT_INTERVAL_S: "0.5",
      HEARTBEAT_TIMEOUT_S: "2",
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

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
  const namespace = `sweeps-test-${randomBytes(4).toString("hex")}`;
  const cluster = await startTestPlatform(t, {
    SERVICES: "api,users,runs,workers",
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    RUN_SCHEDULE_INTERVAL_MS: "100",
    RUN_LEASE_TTL_MS: LEASE_MS,
    WORKER_SLOTS: "2",
    // The dead node leaves the registry within 2 s; until then a call routed to it times out.
    HEARTBEAT_INTERVAL_S: "0.5",
    HEARTBEAT_TIMEOUT_S: "2",
    REQUEST_TIMEOUT_MS: "3000",
  });
  const nodes = new Map([
    [`${namespace}-s1`, spawnSweepsNode(cluster, namespace, "s1")],
    [`${namespace}-s2`, spawnSweepsNode(cluster, namespace, "s2")],
  ]);
  t.teardown(() => Promise.all([...nodes.values()].map(stopChild)).then(() => undefined));
  await waitFor(
    async () =>
      cluster.platform.broker.registry
        .getNodeList({ onlyAvailable: true, withServices: true })
        .filter((n) => (n.services as { name: string }[]).some((s) => s.name === "sweeps")).length,
    (n) => n === 2,
    "two sweeps nodes",
    60_000,
  );

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
  const victim = nodes.get(host ?? "");
  t.truthy(victim, `the sweep's host ${host} is one of the children`);
  victim!.kill("SIGKILL");
  await new Promise((r) => victim!.once("exit", r));

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
