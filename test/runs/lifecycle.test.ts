import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import test from "ava";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { call } from "../../services/actions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  deterministicPart,
  getRun,
  launch,
  metrics,
  RUN_SERVICES,
  tinyRun,
  waitForStatus,
} from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "8", RUN_CHECKPOINT_EVERY: "3" });

test("a CartPole run launched through the API completes with one metric point per iteration, a final checkpoint and the evaluation of its final policy", async (t) => {
  const me = await api().learner();
  const token = me.tokens.accessToken;
  const run = await launch(api(), token, tinyRun(5, { resources: { runners: 2 } }));
  t.is(run.status, "queued");
  t.deepEqual(run.resources, { runners: 2, envsPerRunner: 2, gpu: false });
  const done = await waitForStatus(api(), token, run.id, ["completed", "failed"]);
  t.is(done.status, "completed", done.failureReason ?? "");
  t.is(done.iteration, 5);
  t.is(done.globalStep, 640);
  const points = await metrics(api(), token, run.id);
  t.deepEqual(
    points.map((p) => p.iteration),
    [1, 2, 3, 4, 5],
  );
  for (const key of [
    "charts/SPS",
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
  ]) {
    t.true(key in points[0]!.metrics, key);
  }
  const res = await api().authedFetch(token, `/api/v1/runs/${run.id}/checkpoint`);
  t.is(res.status, 200);
  t.is(res.headers.get("content-type"), "application/octet-stream");
  const bytes = new Uint8Array(await res.arrayBuffer());
  const state = decodeCheckpoint(bytes);
  t.is(state.counters.iteration, 5);
  t.is(state.counters.globalStep, 640);
  t.is(state.rng.collector.env.numEnvs, 4);

  // The run recorded the deterministic evaluation of its final policy.
  t.like(done.evaluation, { episodes: 10, seed: 7 + 1_000_000, iteration: 5, globalStep: 640 });
  t.is(done.evaluation!.returns.length, 10);
  t.true(done.evaluation!.returns.every((r) => r >= 1 && r <= 500));

  // The downloaded file is what `proxima eval --checkpoint FILE` loads, and it evaluates the final
  // policy to the figures the run recorded.
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-ckpt-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "run.ckpt");
  await writeFile(file, bytes);
  const evaluated = spawnSync(
    process.execPath,
    ["bin/proxima.js", "eval", "--checkpoint", file, "--episodes", "10", "--json"],
    { cwd: path.resolve(import.meta.dirname, "../.."), encoding: "utf8" },
  );
  t.is(evaluated.status, 0, evaluated.stderr);
  const summary = JSON.parse(evaluated.stdout) as {
    env: string;
    globalStep: number;
    seed: number;
    returns: number[];
    returnMean: number;
  };
  t.is(summary.env, "CartPole-v1");
  t.is(summary.globalStep, 640);
  t.is(summary.seed, done.evaluation!.seed);
  t.deepEqual(summary.returns, done.evaluation!.returns);
  t.is(summary.returnMean, done.evaluation!.returnMean);
});

test("stopping a run mid-training stops it within an iteration, and a resume continues from its checkpoint to the same metrics as an uninterrupted run", async (t) => {
  const me = await api().learner();
  const token = me.tokens.accessToken;
  const body = tinyRun(40);
  const reference = await launch(api(), token, body);
  await waitForStatus(api(), token, reference.id, ["completed"]);
  const run = await launch(api(), token, body);
  await waitFor(
    () => getRun(api(), token, run.id),
    (r) => r.iteration >= 2,
    "two iterations",
  );
  const stop = await api().request<{ status: string }>("POST", `/api/v1/runs/${run.id}/stop`, { token });
  t.is(stop.status, 200);
  t.true(["stopping", "stopped"].includes(stop.body.status));
  const stopped = await waitForStatus(api(), token, run.id, ["stopped", "failed", "completed"]);
  t.is(stopped.status, "stopped");
  t.true(stopped.iteration < 40, `stopped at iteration ${stopped.iteration}`);
  t.is(stopped.evaluation, null, "a stopped run has no final policy to evaluate");
  const ckpt = await api().authedFetch(token, `/api/v1/runs/${run.id}/checkpoint`);
  t.is(decodeCheckpoint(new Uint8Array(await ckpt.arrayBuffer())).counters.iteration, stopped.iteration);

  const resumed = await api().request<{ status: string }>("POST", `/api/v1/runs/${run.id}/resume`, { token });
  t.is(resumed.status, 200);
  t.is(resumed.body.status, "queued");
  const done = await waitForStatus(api(), token, run.id, ["completed", "failed"]);
  t.is(done.status, "completed");
  const points = await metrics(api(), token, run.id);
  t.deepEqual(
    points.map((p) => p.iteration),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  t.deepEqual(
    done.evaluation,
    (await getRun(api(), token, reference.id)).evaluation,
    "the same final policy as the uninterrupted run, evaluated the same",
  );
  t.deepEqual(deterministicPart(points), deterministicPart(await metrics(api(), token, reference.id)));
});

test("resuming a run that is not stopped is a conflict", async (t) => {
  const me = await api().learner();
  const token = me.tokens.accessToken;
  const run = await launch(api(), token, tinyRun(2));
  await waitForStatus(api(), token, run.id, ["completed"]);
  const res = await api().request("POST", `/api/v1/runs/${run.id}/resume`, { token });
  t.is(res.status, 409);
});

test("deleting a running run stops it and removes the run with its metrics and checkpoints", async (t) => {
  const me = await api().learner();
  const token = me.tokens.accessToken;
  const run = await launch(api(), token, tinyRun(200));
  await waitFor(
    () => getRun(api(), token, run.id),
    (r) => r.iteration >= 1,
    "one iteration",
  );
  const del = await api().request("DELETE", `/api/v1/runs/${run.id}`, { token });
  t.is(del.status, 204);
  t.is((await api().request("GET", `/api/v1/runs/${run.id}`, { token })).status, 404);
  const em = api().platform.db.orm.em.fork();
  const conn = em.getConnection();
  for (const table of ["metric_points", "checkpoints"]) {
    const rows = await conn.execute(`select count(*)::int as n from ${table} where run_id = ?`, [run.id]);
    t.is(rows[0].n, 0, table);
  }
  // Its runners were released (other tests' runs may hold slots of the shared pool meanwhile).
  const status = await call(api().platform.broker, "workers.status", {});
  t.false(status.runners.some((r) => r.runId === run.id));
});

test("metric history starts at fromIteration and is downsampled to maxPoints keeping first and last", async (t) => {
  const me = await api().learner();
  const token = me.tokens.accessToken;
  const run = await launch(api(), token, tinyRun(9));
  await waitForStatus(api(), token, run.id, ["completed"]);
  t.deepEqual(
    (await metrics(api(), token, run.id, "?fromIteration=7")).map((p) => p.iteration),
    [7, 8, 9],
  );
  t.deepEqual(
    (await metrics(api(), token, run.id, "?maxPoints=3")).map((p) => p.iteration),
    [1, 5, 9],
  );
});
