import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { allowLongTest, LONG_TEST_MS } from "../helpers/wait.ts";
import { accountWithRole } from "../runs/helpers.ts";
import { createSweep, runsOf, SWEEP_SERVICES, waitForSweep } from "./helpers.ts";

/**
 * End to end through the API: 8 trials of learning rate × clip coefficient on CartPole-v1 with the
 * rl-zoo preset (which reaches 500 within 100k steps), ASHA stopping the laggards at 25k and 50k steps.
 */
const api = useTestPlatform(test, SWEEP_SERVICES);

test("an ASHA sweep of 8 CartPole trials finishes and names a best trial that reaches 475", async (t) => {
  allowLongTest(t);
  const me = await accountWithRole(api(), "researcher");
  const sweep = await createSweep(api(), me.token, {
    name: "cartpole lr × clip",
    env: "CartPole-v1",
    preset: "zoo",
    totalSteps: 100_000,
    method: "grid",
    searchSpace: {
      learningRate: { values: [1e-3, 3e-4] },
      clipCoef: { values: [0.1, 0.2, 0.3, 0.4] },
    },
    maxTrials: 8,
    maxConcurrent: 2,
    earlyStopping: { type: "asha", gracePeriod: 25_000, reductionFactor: 2 },
  });
  const done = await waitForSweep(api(), me.token, sweep.id, ["completed", "failed"], LONG_TEST_MS - 20_000);
  t.is(done.status, "completed");
  t.truthy(done.best);
  t.true(done.best!.metric! >= 475, `best final return ${done.best!.metric}`);
  const best = done.trials.find((x) => x.id === done.best!.trialId)!;
  t.is(best.status, "completed");

  const pruned = done.trials.filter((x) => x.status === "pruned");
  t.true(pruned.length > 0, "ASHA stopped some trials");
  for (const p of pruned) {
    t.true([25_000, 50_000].includes(p.pruned!.rung));
    const record = p.rungs.find((r) => r.rung === p.pruned!.rung)!;
    t.false(record.continued);
    t.is(record.value, p.pruned!.value);
    t.true(p.steps < 100_000);
  }
  for (const x of done.trials.filter((x) => x.status === "completed")) {
    t.true(x.rungs.every((r) => r.continued));
    t.is(x.rungs.length, 2);
  }
  const runs = await runsOf(api().database.url, me.id);
  t.is(runs.length, 8, "one run per trial");
  const spent = done.trials.reduce((s, x) => s + x.steps, 0);
  t.log(
    `env steps spent ${spent} of ${8 * 100_000}; best ${best.params["learningRate"]}/${best.params["clipCoef"]} → ${best.finalMetric}`,
  );
});
