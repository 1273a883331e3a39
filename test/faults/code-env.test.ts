import test from "ava";
import type { WorkerStatus } from "../../contracts/workers.ts";
import { getExercise } from "../../exercises/index.ts";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { deterministicPart, getRun, launch, metrics, waitForStatus } from "../runs/helpers.ts";
import { submitAndGrade } from "../submissions/helpers.ts";
import { assertSoundCompletion, startCluster } from "./helpers.ts";

/**
 * An environment defined by code over NATS, in separate processes as in a cluster: the submission is
 * checked on a controller, its runs step it in sandbox processes of two workers, and when a worker is
 * killed mid-run the replacement runner restores the env's own state (getState/setState) on another
 * worker, so the run completes with the metrics of an undisturbed one.
 */
const ITERATIONS = 300;

test("a run on a custom environment survives kill -9 of a worker with the metrics of an undisturbed run", async (t) => {
  allowLongTest(t);
  const c = await startCluster(t);
  c.spawn("controller", "runs,submissions", { SUBMISSIONS_POOL_SIZE: "1" });
  const w1 = c.spawn("w1", "workers", { WORKER_SLOTS: "1" });
  const w2 = c.spawn("w2", "workers", { WORKER_SLOTS: "1" });
  c.spawn("w3", "workers", { WORKER_SLOTS: "1" });
  await Promise.all([
    c.waitForNodes("runs", 1),
    c.waitForNodes("submissions", 1),
    c.waitForNodes("workers", 3),
  ]);
  const admin = (await c.api.loginAdmin()).accessToken;
  const submission = await submitAndGrade(
    c.api,
    admin,
    "custom-environment",
    getExercise("custom-environment")!.starterCode,
  );
  t.is(submission.status, "passed", JSON.stringify(submission.tests));
  const body = {
    env: submission.envId,
    seed: 5,
    totalSteps: 128 * ITERATIONS,
    hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2, learningRate: 0.003 },
    resources: { runners: 2 },
  };
  const reference = await launch(c.api, admin, body);
  const ref = await waitForStatus(c.api, admin, reference.id, ["completed", "failed"], RUN_DEADLINE_MS);
  t.is(ref.status, "completed", ref.failureReason ?? "");
  const expected = deterministicPart(await metrics(c.api, admin, reference.id));

  const run = await launch(c.api, admin, body);
  await waitFor(
    () => getRun(c.api, admin, run.id),
    (r) => r.iteration >= 3,
    "three iterations",
  );
  const hosts = await c.api.request<WorkerStatus[]>("GET", "/api/v1/workers", { token: admin });
  const victim = [w1, w2].find((w) =>
    hosts.body.some((h) => h.nodeID === w.nodeID && h.runners.some((r) => r.runId === run.id)),
  );
  t.truthy(victim, "the run has a runner on w1 or w2");
  await victim!.kill9();
  const done = await waitForStatus(c.api, admin, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
  const points = await assertSoundCompletion(t, c.api, admin, done, ITERATIONS);
  t.deepEqual(deterministicPart(points), expected, "the same metrics as the undisturbed run");
});
