import test from "ava";
import type { RunReplay } from "../../contracts/replay.ts";
import { startTestPlatform, useTestPlatform } from "../helpers/platform.ts";
import {
  accountWithRole,
  launch,
  RUN_SERVICES,
  rewriteCheckpointEnv,
  tinyRun,
  waitForStatus,
} from "./helpers.ts";

/**
 * GET /runs/:id/replay: an evaluation episode of the latest checkpoint, recorded for the dashboard's
 * player, is the run's recorded evaluation episode (same seed, same return), under the run's access
 * rules, and a run without a checkpoint has none to play.
 */
const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "8" });

interface Problem {
  status: number;
  detail?: string;
}

test("a completed CartPole run's replay plays its recorded evaluation: each episode's return is evaluation.returns[k]", async (t) => {
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, tinyRun(3));
  const done = await waitForStatus(api(), me.token, run.id, ["completed", "failed"]);
  t.is(done.status, "completed", done.failureReason ?? "");
  const evaluation = done.evaluation!;

  const res = await api().request<RunReplay>("GET", `/api/v1/runs/${run.id}/replay`, { token: me.token });
  t.is(res.status, 200);
  const replay = res.body;
  t.is(replay.runId, run.id);
  t.is(replay.episode, 0);
  t.is(replay.iteration, 3);
  t.is(replay.globalStep, done.globalStep);
  t.is(replay.seed, evaluation.seed);
  t.is(replay.return, evaluation.returns[0]);
  t.deepEqual(replay.scene, { kind: "cartpole" });
  t.is(replay.states.length, replay.length + 1);
  t.is(replay.rewards.length, replay.length);
  t.true(replay.states.every((s) => s.length === 4));
  t.true(replay.terminated || replay.truncated);

  // Another episode of the evaluation: its seed + 2, its return.
  const third = await api().request<RunReplay>("GET", `/api/v1/runs/${run.id}/replay?episode=2`, {
    token: me.token,
  });
  t.is(third.status, 200);
  t.is(third.body.seed, evaluation.seed + 2);
  t.is(third.body.return, evaluation.returns[2]);

  // Asked again: the same recording (kept per checkpoint).
  const again = await api().request<RunReplay>("GET", `/api/v1/runs/${run.id}/replay`, { token: me.token });
  t.deepEqual(again.body, replay);

  // The owner's rules: another learner sees no such run, an admin does, nobody anonymous.
  const other = await accountWithRole(api(), "learner");
  const hidden = await api().request<Problem>("GET", `/api/v1/runs/${run.id}/replay`, { token: other.token });
  t.is(hidden.status, 404);
  t.is(hidden.headers.get("content-type"), "application/problem+json");
  const admin = await api().loginAdmin();
  const seen = await api().request<RunReplay>("GET", `/api/v1/runs/${run.id}/replay`, {
    token: admin.accessToken,
  });
  t.is(seen.body.return, evaluation.returns[0]);
  t.is((await api().request("GET", `/api/v1/runs/${run.id}/replay`)).status, 401);
  const bad = await api().request<Problem>("GET", `/api/v1/runs/${run.id}/replay?episode=-1`, {
    token: me.token,
  });
  t.is(bad.status, 422);
});

test("a checkpoint of an env that cannot be drawn is a 409 that names it", async (t) => {
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, tinyRun(1));
  t.is((await waitForStatus(api(), me.token, run.id, ["completed", "failed"])).status, "completed");
  await rewriteCheckpointEnv(api(), run.id, "Nope-v9");
  const res = await api().request<Problem>("GET", `/api/v1/runs/${run.id}/replay`, { token: me.token });
  t.is(res.status, 409);
  t.is(res.headers.get("content-type"), "application/problem+json");
  t.regex(res.body.detail ?? "", /Nope-v9/);
});

test("the OpenAPI document describes GET /runs/{id}/replay with its schema", async (t) => {
  const doc = await api().request<{
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  }>("GET", "/api/v1/openapi.json");
  const op = doc.body.paths["/api/v1/runs/{id}/replay"]?.["get"];
  t.is(op?.operationId, "getRunReplay");
  t.truthy(op?.responses["409"]);
  t.regex(JSON.stringify(op?.responses["200"]), /RunReplay/);
});

test("a run without a checkpoint has no episode to replay: 409 problem+json", async (t) => {
  // No workers: the run stays queued and never writes a checkpoint.
  const platform = await startTestPlatform(t, {
    SERVICES: "api,users,runs",
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  const me = await accountWithRole(platform, "learner");
  const run = await launch(platform, me.token, tinyRun(2));
  const res = await platform.request<Problem>("GET", `/api/v1/runs/${run.id}/replay`, { token: me.token });
  t.is(res.status, 409);
  t.is(res.headers.get("content-type"), "application/problem+json");
  t.regex(res.body.detail ?? "", /no checkpoint yet/);
});
