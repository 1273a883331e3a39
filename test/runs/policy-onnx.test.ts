import test from "ava";
import * as ort from "onnxruntime-node";
import { makeVectorEnv } from "../../rl/envs/vector.ts";
import { startTestPlatform, useTestPlatform } from "../helpers/platform.ts";
import {
  accountWithRole,
  launch,
  RUN_SERVICES,
  rewriteCheckpointEnv,
  tinyRun,
  waitForStatus,
} from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "8" });

interface Problem {
  status: number;
  detail?: string;
}

test("GET /runs/:id/policy.onnx serves the final policy as ONNX, and it plays the run's recorded evaluation episode for episode", async (t) => {
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, tinyRun(3));
  const done = await waitForStatus(api(), me.token, run.id, ["completed", "failed"]);
  t.is(done.status, "completed", done.failureReason ?? "");

  const res = await api().authedFetch(me.token, `/api/v1/runs/${run.id}/policy.onnx`);
  t.is(res.status, 200);
  t.is(res.headers.get("content-type"), "application/octet-stream");
  t.is(res.headers.get("content-disposition"), `attachment; filename="run-${run.id}-iter-3.onnx"`);
  t.is(res.headers.get("x-checkpoint-global-step"), String(done.globalStep));
  const model = new Uint8Array(await res.arrayBuffer());

  // The run's evaluation (argmax actions on envs seeded seed, seed+1, ...), replayed with the model.
  const evaluation = done.evaluation!;
  const session = await ort.InferenceSession.create(model);
  const env = makeVectorEnv("CartPole-v1", evaluation.episodes);
  let obs = env.reset({ seed: evaluation.seed });
  const returns = new Array<number>(evaluation.episodes).fill(Number.NaN);
  while (returns.some(Number.isNaN)) {
    const input = new ort.Tensor("float32", obs.slice(), [evaluation.episodes, 4]);
    const { action } = await session.run({ obs: input });
    const step = env.step(Int32Array.from(action!.data as BigInt64Array, Number));
    for (const e of step.episodes) if (Number.isNaN(returns[e.index])) returns[e.index] = e.return;
    obs = step.observations;
  }
  t.deepEqual(returns, evaluation.returns);

  // Same ownership rules as the checkpoint: another learner sees no such run.
  const other = await accountWithRole(api(), "learner");
  const hidden = await api().request<Problem>("GET", `/api/v1/runs/${run.id}/policy.onnx`, {
    token: other.token,
  });
  t.is(hidden.status, 404);
  t.is(hidden.headers.get("content-type"), "application/problem+json");
  const anonymous = await api().request("GET", `/api/v1/runs/${run.id}/policy.onnx`);
  t.is(anonymous.status, 401);
});

test("a checkpoint whose env the exporter does not know is a 409 that names the env", async (t) => {
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, tinyRun(1));
  t.is((await waitForStatus(api(), me.token, run.id, ["completed", "failed"])).status, "completed");
  // A checkpoint of an env this build does not have (as one written by a newer build could be).
  await rewriteCheckpointEnv(api(), run.id, "Nope-v9");
  const res = await api().request<Problem>("GET", `/api/v1/runs/${run.id}/policy.onnx`, { token: me.token });
  t.is(res.status, 409);
  t.is(res.headers.get("content-type"), "application/problem+json");
  t.regex(res.body.detail ?? "", /"Nope-v9"/);
});

test("the OpenAPI document describes GET /runs/{id}/policy.onnx", async (t) => {
  const doc = await api().request<{ paths: Record<string, Record<string, { operationId: string }>> }>(
    "GET",
    "/api/v1/openapi.json",
  );
  t.is(doc.body.paths["/api/v1/runs/{id}/policy.onnx"]?.["get"]?.operationId, "getRunPolicyOnnx");
});

test("a run without a checkpoint has no policy to download: 404 problem+json", async (t) => {
  // No workers: the run stays queued and never writes a checkpoint.
  const platform = await startTestPlatform(t, {
    SERVICES: "api,users,runs",
    RUN_SCHEDULE_INTERVAL_MS: "100",
  });
  const me = await accountWithRole(platform, "learner");
  const run = await launch(platform, me.token, tinyRun(2));
  const res = await platform.request<Problem>("GET", `/api/v1/runs/${run.id}/policy.onnx`, {
    token: me.token,
  });
  t.is(res.status, 404);
  t.is(res.headers.get("content-type"), "application/problem+json");
  t.regex(res.body.detail ?? "", /checkpoint not found/);
});
