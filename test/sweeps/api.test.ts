import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { allowLongTest, RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import { accountWithRole, getRun, waitForStatus } from "../runs/helpers.ts";
import {
  createSweep,
  getSweep,
  maxOverlap,
  runsOf,
  SWEEP_SERVICES,
  tinySweep,
  waitForSweep,
} from "./helpers.ts";

const api = useTestPlatform(test, SWEEP_SERVICES);

test("a learner may not create a sweep: 403 with the reason", async (t) => {
  const me = await api().learner();
  const res = await api().request<{ status: number; detail: string }>("POST", "/api/v1/sweeps", {
    token: me.tokens.accessToken,
    body: tinySweep(2),
  });
  t.is(res.status, 403);
  t.regex(res.body.detail, /researcher or admin/);
});

test("an invalid definition is a 422 that names the offending key", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const cases: [unknown, string][] = [
    [tinySweep(2, { searchSpace: { learningRat: { values: [1e-3] } } }), "searchSpace.learningRat"],
    [tinySweep(2, { searchSpace: {} }), "searchSpace"],
    [
      tinySweep(2, { method: "random", searchSpace: { clipCoef: { uniform: [0.3, 0.1] } } }),
      "searchSpace.clipCoef.uniform",
    ],
    [tinySweep(2, { maxTrials: 3 }), "maxTrials"],
    [tinySweep(2, { env: "NoSuchEnv-v0" }), "env"],
  ];
  for (const [body, field] of cases) {
    const res = await api().request<{ errors: { field: string }[] }>("POST", "/api/v1/sweeps", {
      token: me.token,
      body,
    });
    t.is(res.status, 422, field);
    t.true(
      res.body.errors.some((e) => e.field === field),
      `${field} in ${JSON.stringify(res.body.errors)}`,
    );
  }
});

test("a grid sweep runs every trial once, never more than maxConcurrent at a time, and exports its results with each final policy's evaluation", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const created = await createSweep(api(), me.token, tinySweep(4));
  t.is(created.trials.length, 4);
  t.deepEqual(
    created.trials.map((x) => [x.params["learningRate"], x.params["clipCoef"]]),
    [
      [1e-3, 0.1],
      [1e-3, 0.2],
      [3e-4, 0.1],
      [3e-4, 0.2],
    ],
  );
  const done = await waitForSweep(api(), me.token, created.id, ["completed", "failed"]);
  t.is(done.status, "completed");
  t.true(done.trials.every((x) => x.status === "completed" && x.steps === 512 && x.finalMetric !== null));
  t.truthy(done.best);
  t.is(done.best!.metric, Math.max(...done.trials.map((x) => x.finalMetric!)));
  // Each trial carries the evaluation of its final policy, as its run recorded it.
  for (const trial of done.trials)
    t.is(trial.evaluationReturn, (await getRun(api(), me.token, trial.runId)).evaluation!.returnMean);

  const runs = await runsOf(api().database.url, me.id);
  t.deepEqual(runs.map((r) => r.id).sort(), done.trials.map((x) => x.runId).sort(), "one run per trial");
  t.true(maxOverlap(runs) <= 2, `at most 2 runs alive at once, saw ${maxOverlap(runs)}`);

  const csv = await api().authedFetch(me.token, `/api/v1/sweeps/${created.id}/results.csv`);
  t.is(csv.status, 200);
  t.regex(csv.headers.get("content-type") ?? "", /text\/csv/);
  const lines = (await csv.text()).trim().split("\r\n");
  // Parameter columns follow the stored definition (PostgreSQL's jsonb orders keys by length, then bytes).
  t.is(
    lines[0],
    "trial,clipCoef,learningRate,seed,status,pruned_at,final_metric,eval_return_mean,steps,run_id",
  );
  t.is(lines.length, 5);
  t.true(lines[1]!.startsWith("0,0.1,0.001,1,completed,,"));
  t.is(lines[1]!.split(",")[7], String(done.trials.find((x) => x.index === 0)!.evaluationReturn));

  const list = await api().request<{ items: { id: string; trialCounts: Record<string, number> }[] }>(
    "GET",
    "/api/v1/sweeps",
    { token: me.token },
  );
  t.is(list.body.items[0]!.id, created.id);
  t.is(list.body.items[0]!.trialCounts["completed"], 4);
});

test("stopping a sweep stops its trials; resuming it finishes them from their checkpoints", async (t) => {
  allowLongTest(t);
  const me = await accountWithRole(api(), "researcher");
  const created = await createSweep(api(), me.token, tinySweep(60, { maxConcurrent: 1 }));
  const first = created.trials[0]!;
  await waitFor(
    () => getRun(api(), me.token, first.runId).catch(() => null),
    (r) => r?.status === "running" && r.iteration > 0,
    "the first trial's run under way",
  );
  const stop = await api().request<{ status: string }>("POST", `/api/v1/sweeps/${created.id}/stop`, {
    token: me.token,
  });
  t.is(stop.status, 200);
  const stopped = await waitForSweep(api(), me.token, created.id, ["stopped"]);
  t.true(stopped.trials.every((x) => x.status === "stopped"));
  const run = await waitForStatus(api(), me.token, first.runId, ["stopped"]);
  t.true(run.iteration < 60);
  t.is((await api().request("POST", `/api/v1/sweeps/${created.id}/stop`, { token: me.token })).status, 409);

  const resumed = await api().request<{ status: string }>("POST", `/api/v1/sweeps/${created.id}/resume`, {
    token: me.token,
  });
  t.is(resumed.status, 200);
  t.is(resumed.body.status, "running");
  const done = await waitForSweep(api(), me.token, created.id, ["completed", "failed"], RUN_DEADLINE_MS);
  t.is(done.status, "completed");
  t.true(done.trials.every((x) => x.status === "completed" && x.steps === 128 * 60));
  const runs = await runsOf(api().database.url, me.id);
  t.is(runs.length, 4, "the stopped trial's run was resumed, not launched again");
});

test("another user's sweep is not found", async (t) => {
  const owner = await accountWithRole(api(), "researcher");
  const other = await accountWithRole(api(), "researcher");
  const created = await createSweep(api(), owner.token, tinySweep(1));
  const res = await api().request("GET", `/api/v1/sweeps/${created.id}`, { token: other.token });
  t.is(res.status, 404);
  await waitForSweep(api(), owner.token, created.id, ["completed"]);
  t.is((await getSweep(api(), owner.token, created.id)).trials.length, 4);
});
