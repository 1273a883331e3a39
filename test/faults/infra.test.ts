import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import { startEmbeddedPostgres } from "../../db/embedded.ts";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { deterministicPart, launch, metrics, tinyRun } from "../runs/helpers.ts";
import { assertSoundCompletion, type Cluster, freePort, startCluster, startPrivateNats } from "./helpers.ts";

const ITERATIONS = 150;
const body = tinyRun(ITERATIONS, { resources: { runners: 2 } });

/** The run through the API, or null while the API cannot answer (its broker or database is reconnecting). */
async function tolerantRun(c: Cluster, token: string, id: string): Promise<PublicRun | null> {
  const res = await c.api.request<PublicRun>("GET", `/api/v1/runs/${id}`, { token }).catch(() => null);
  return res?.status === 200 ? res.body : null;
}

async function untilEnded(c: Cluster, token: string, id: string): Promise<PublicRun> {
  const run = await waitFor(
    () => tolerantRun(c, token, id),
    (r) => r?.status === "completed" || r?.status === "failed",
    "the run to end",
    RUN_DEADLINE_MS,
  );
  return run!;
}

async function reference(c: Cluster, token: string) {
  const ref = await launch(c.api, token, body);
  await untilEnded(c, token, ref.id);
  return deterministicPart(await metrics(c.api, token, ref.id));
}

test("NATS restarted mid-run: every process reconnects and the run completes with the metrics of an undisturbed run", async (t) => {
  allowLongTest(t);
  const nats = await startPrivateNats(t);
  // Info logs: the outage and every reconnection are what a failure here would need explained.
  const c = await startCluster(t, { natsUrl: nats.url, env: { LOG_LEVEL: "info" } });
  c.spawn("r1", "runs");
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 1), c.waitForNodes("workers", 2)]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const expected = await reference(c, admin);

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => tolerantRun(c, admin, run.id),
    (r) => (r?.iteration ?? 0) >= 15,
    "fifteen iterations",
  );
  await nats.kill();
  // NATS stays down until the outage is felt: the API has missed the other nodes' heartbeats.
  await waitFor(
    () => c.nodesWith("runs").length + c.nodesWith("workers").length,
    (n) => n === 0,
    "the API to lose sight of the runs and workers nodes",
  );
  await nats.start();
  const done = await untilEnded(c, admin, run.id);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
});

test("PostgreSQL restarted mid-run (immediate shutdown): the pools reconnect and the run completes with the metrics of an undisturbed run", async (t) => {
  allowLongTest(t);
  const dataDir = await mkdtemp(path.join(tmpdir(), "proxima-pg-restart-"));
  // As root, the server runs as the postgres user, which must be able to enter the directory.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  let server = await startEmbeddedPostgres({ dataDir, port });
  t.teardown(async () => {
    await server.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });
  const c = await startCluster(t, { databaseUrl: server.url });
  c.spawn("r1", "runs");
  c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([c.waitForNodes("runs", 1), c.waitForNodes("workers", 2)]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const expected = await reference(c, admin);

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => tolerantRun(c, admin, run.id),
    (r) => (r?.iteration ?? 0) >= 15,
    "fifteen iterations",
  );
  // SIGQUIT to the postmaster is PostgreSQL's immediate shutdown (`pg_ctl stop -m immediate`).
  const pid = Number((await readFile(path.join(server.clusterDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  process.kill(pid, "SIGQUIT");
  await waitFor(
    async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    Boolean,
    "the postmaster to exit",
  );
  await server.stop().catch(() => undefined);
  // The server stays down until the outage is felt: the API's own pool fails to reach it.
  await waitFor(
    () => c.api.platform.db.ping(),
    (up) => !up,
    "the API's pool to lose the database",
  );
  server = await startEmbeddedPostgres({ dataDir, port });
  const done = await untilEnded(c, admin, run.id);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
});
