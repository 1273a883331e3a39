import test from "ava";
import * as ort from "onnxruntime-node";
import { makeEnv } from "../../rl/envs/registry.ts";
import { allowLongTest, RUN_DEADLINE_MS } from "../helpers/wait.ts";
import { startWorkerCluster } from "../helpers/workers.ts";
import {
  accountWithRole,
  deterministicPart,
  launch,
  metrics,
  trainLocally,
  waitForStatus,
} from "./helpers.ts";

/**
 * Issue 16: a MuJoCo task runs through the platform as a classic one does. HalfCheetah-v5 with its
 * `cleanrl` preset (observation and reward normalisation), 2 env runners of one env each in a worker
 * process over NATS, is the run `proxima train` makes with 2 envs, bit for bit: the MuJoCo engine
 * loads lazily in the worker and in the controller (evaluation) alike, and each env's physics and
 * seeds depend on its global index only. Its policy downloads as ONNX and runs in onnxruntime.
 */
const BODY = {
  env: "HalfCheetah-v5",
  preset: "cleanrl" as const,
  seed: 5,
  totalSteps: 2 * 128 * 3,
  hyperparameters: { numEnvs: 2, numSteps: 128, numMinibatches: 4, updateEpochs: 2 },
  resources: { runners: 2 },
};

test("HalfCheetah-v5 over 2 env runners in a worker process is proxima train's run with 2 envs, and its policy runs as ONNX", async (t) => {
  allowLongTest(t);
  const { controller: cluster } = await startWorkerCluster(t, {
    prefix: "mujoco-test",
    workers: [{ slots: 2 }],
    env: { RUN_EVAL_EPISODES: "2" },
  });
  const me = await accountWithRole(cluster, "learner");
  const run = await launch(cluster, me.token, BODY);
  t.deepEqual(run.resources, { runners: 2, envsPerRunner: 1, gpu: false });
  const done = await waitForStatus(cluster, me.token, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
  t.is(done.status, "completed", done.failureReason ?? "");

  const { trainer, points: local } = await trainLocally(BODY);
  t.teardown(() => trainer.dispose());
  const points = await metrics(cluster, me.token, run.id);
  t.is(points.length, 3);
  t.deepEqual(deterministicPart(points), local, "metrics equal proxima train's, bit for bit");
  const expected = trainer.evaluate(2, BODY.seed + 1_000_000);
  t.deepEqual(done.evaluation?.returns, expected.returns, "the evaluation of the final policy");

  // The policy as ONNX: 17 raw observations in, 6 actions (the clipped mean) out.
  const res = await cluster.authedFetch(me.token, `/api/v1/runs/${run.id}/policy.onnx`);
  t.is(res.status, 200);
  const session = await ort.InferenceSession.create(new Uint8Array(await res.arrayBuffer()));
  const env = makeEnv(BODY.env);
  t.teardown(() => env.close());
  const { observation } = env.reset({ seed: 1 });
  const out = await session.run({ obs: new ort.Tensor("float32", Float32Array.from(observation), [1, 17]) });
  const action = out[session.outputNames[0]!]!.data as Float32Array;
  t.is(action.length, 6);
  t.true(
    action.every((a) => a >= -1 && a <= 1),
    `actions within the bounds: ${Array.from(action)}`,
  );
});
