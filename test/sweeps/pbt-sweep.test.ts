import test from "ava";
import pg from "pg";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { quantileSize } from "../../sweeps/pbt.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { allowLongTest, RUN_DEADLINE_MS } from "../helpers/wait.ts";
import { accountWithRole, launch, metrics, tinyRun, waitForStatus } from "../runs/helpers.ts";
import { createSweep, SWEEP_SERVICES, waitForSweep } from "./helpers.ts";

const api = useTestPlatform(test, SWEEP_SERVICES);

/** A run's checkpoints from the database, oldest first, decoded. */
async function checkpoints(runId: string) {
  const client = new pg.Client({ connectionString: api().database.url });
  await client.connect();
  try {
    const r = await client.query(
      `select iteration, bytes from checkpoints where run_id = $1 order by iteration`,
      [runId],
    );
    return r.rows.map((x) => ({
      iteration: x.iteration as number,
      state: decodeCheckpoint(new Uint8Array(x.bytes)),
    }));
  } finally {
    await client.end();
  }
}

test("a run created with initFrom starts from the source's checkpoint with its own hyperparameters", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const source = await launch(api(), me.token, tinyRun(4));
  await waitForStatus(api(), me.token, source.id, ["completed"]);
  const [sourceFinal] = (await checkpoints(source.id)).slice(-1);

  const refused = await api().request<{ errors: { field: string }[] }>("POST", "/api/v1/runs", {
    token: me.token,
    body: tinyRun(8, {
      hyperparameters: { numEnvs: 8, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
      initFrom: { runId: source.id },
    }),
  });
  t.is(refused.status, 422);
  t.true(refused.body.errors.some((e) => e.field === "hyperparameters.numEnvs"));

  const body = tinyRun(8, { initFrom: { runId: source.id, iteration: 4 } });
  (body.hyperparameters as Record<string, unknown>)["learningRate"] = 1e-3;
  const child = await launch(api(), me.token, body);
  await waitForStatus(api(), me.token, child.id, ["completed"]);
  const [first] = await checkpoints(child.id);
  t.is(first!.iteration, 4);
  t.deepEqual(first!.state.params, sourceFinal!.state.params, "the source's weights");
  t.deepEqual(first!.state.adam.m, sourceFinal!.state.adam.m, "and its optimizer state");
  t.is(first!.state.config.learningRate, 1e-3, "with the new run's hyperparameters");
  const points = await metrics(api(), me.token, child.id);
  t.deepEqual(
    points.map((p) => p.iteration),
    [5, 6, 7, 8],
  );
  t.is(points[0]!.globalStep, 5 * 128);
});

test("PBT: the bottom quantile continues from a top member's checkpoint with perturbed hyperparameters; lineage is kept", async (t) => {
  allowLongTest(t);
  const me = await accountWithRole(api(), "researcher");
  const sweep = await createSweep(api(), me.token, {
    name: "pbt",
    env: "CartPole-v1",
    totalSteps: 128 * 12,
    hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
    method: "pbt",
    pbt: { perturbationInterval: 128 * 4, quantile: 0.25, resampleProbability: 0.25 },
    searchSpace: { learningRate: { loguniform: [1e-4, 3e-3] }, clipCoef: { uniform: [0.1, 0.3] } },
    maxTrials: 4,
    maxConcurrent: 2,
    seed: 11,
  });
  t.is(sweep.trials.length, 4);
  const done = await waitForSweep(api(), me.token, sweep.id, ["completed", "failed"], RUN_DEADLINE_MS);
  t.is(done.status, "completed");
  t.is(done.trials.length, 12, "3 generations of 4");
  t.true(done.trials.every((x) => x.status === "completed"));
  const byId = new Map(done.trials.map((x) => [x.id, x]));
  const k = quantileSize(4, 0.25);
  for (const trial of done.trials.filter((x) => x.generation! > 0)) {
    const lineage = trial.lineage!;
    const parent = byId.get(lineage.parentTrialId)!;
    t.is(parent.generation, trial.generation! - 1);
    t.is(lineage.initFrom.runId, parent.runId);
    t.is(trial.totalSteps, 128 * 4 * (trial.generation! + 1));
    const [first] = await checkpoints(trial.runId);
    t.is(first!.iteration, lineage.initFrom.iteration, "starts from the parent's checkpoint");
    const parentCheckpoint = (await checkpoints(parent.runId)).find(
      (c) => c.iteration === lineage.initFrom.iteration,
    )!;
    t.deepEqual(first!.state.params, parentCheckpoint.state.params);
    const previous = done.trials
      .filter((x) => x.generation === parent.generation)
      .sort((a, b) => b.finalMetric! - a.finalMetric! || a.member! - b.member!);
    if (lineage.exploited) {
      t.true(
        previous.slice(0, k).some((x) => x.id === parent.id),
        "copied from the top quantile",
      );
      t.true(
        previous.slice(-k).some((x) => x.member === trial.member),
        "only the bottom quantile exploits",
      );
      const lr = trial.params["learningRate"] as number;
      const clip = trial.params["clipCoef"] as number;
      t.true(lr >= 1e-4 && lr <= 3e-3 && clip >= 0.1 && clip <= 0.3, JSON.stringify(trial.params));
      for (const [key, p] of Object.entries(lineage.perturbations)) t.is(p.from, parent.params[key]);
    } else {
      t.is(parent.member, trial.member);
      t.deepEqual(trial.params, parent.params);
    }
  }
  t.is(done.trials.filter((x) => x.lineage?.exploited).length, 2 * k, "k members exploit per generation");
  t.is(byId.get(done.best!.trialId)!.generation, 2);
});
