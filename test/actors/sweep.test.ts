import test from "ava";
import { SweepActor } from "../../actors/sweep.ts";
import { parseSweepDefinition, type SweepDefinitionInput } from "../../sweeps/definition.ts";
import { ManualClock } from "./helpers/clock.ts";
import { MemoryLauncher, MemoryRuns, MemorySweepStore, RecordedSweepEvents } from "./helpers/sweeps.ts";

/**
 * The SweepActor itself, against its store, its trials' runs and its launcher in memory, on a clock
 * the test moves: each look is one poll of the clock, and the test plays the trials' runs (their
 * metric points, their ends) between looks. The multi-process sweeps tests (test/sweeps/) drive the
 * same actor through the platform.
 */

const POLL_MS = 1_000;

function setup(input: Partial<SweepDefinitionInput>, quota?: number) {
  const definition = parseSweepDefinition({
    name: "unit",
    env: "CartPole-v1",
    totalSteps: 400,
    hyperparameters: { numEnvs: 4, numSteps: 25 },
    searchSpace: { learningRate: { values: [1e-3, 3e-4, 1e-4, 3e-5] } },
    maxTrials: 4,
    ...input,
  });
  let runs = 0;
  const newRunId = () => `run-${runs++}`;
  const table = new MemoryRuns(100);
  const store = new MemorySweepStore(definition, table, newRunId);
  const launcher = new MemoryLauncher(table, quota);
  const events = new RecordedSweepEvents();
  const clock = new ManualClock();
  const actor = new SweepActor({ id: "sweep", ownerId: "owner", definition }, store, launcher, events, {
    pollMs: POLL_MS,
    newRunId,
    clock,
  });
  /** One look: the first at activation, then at each poll; done when the actor waits again or has ended. */
  let activated = false;
  const look = async () => {
    const waiting = clock.nextTimer();
    if (activated) clock.advance(POLL_MS);
    else actor.activate();
    activated = true;
    await Promise.race([waiting, actor.ended]);
  };
  return { definition, table, store, launcher, events, clock, actor, look };
}

test("ASHA: the trials below the cut at a rung are pruned and their runs stopped; the sweep completes with its best trial", async (t) => {
  const { table, store, launcher, events, actor, look, clock } = setup({
    maxConcurrent: 4,
    earlyStopping: { type: "asha", gracePeriod: 100, reductionFactor: 2, rungs: [200] },
  });
  await look();
  t.deepEqual(
    launcher.launched.map((x) => x.index),
    [0, 1, 2, 3],
  );
  t.true(store.trialRows.every((x) => x.status === "running"));

  // Two iterations of 100 steps each, all at the rung together (judged in index order): trial 2
  // only ties the cut, trial 0's 30, which came first.
  const values = [
    [10, 30],
    [20, 50],
    [40, 30],
    [5, 10],
  ];
  for (const [i, v] of values.entries()) for (const value of v) table.report(`run-${i}`, value);
  await look();
  t.deepEqual(
    store.trialRows.map((x) => [x.index, x.status, x.rungs.map((r) => [r.n, r.keep, r.cutoff, r.continued])]),
    [
      [0, "running", [[1, 1, 30, true]]],
      [1, "running", [[2, 1, 50, true]]],
      [2, "pruned", [[3, 2, 30, false]]],
      [3, "pruned", [[4, 2, 30, false]]],
    ],
  );
  t.deepEqual(launcher.stopped, ["run-2", "run-3"]);
  t.is(table.get("run-2").status, "stopping");
  t.is(store.trialRows[2]!.finalMetric, 30);

  // The pruned runs stop; the others finish (trial 1 best), and the sweep completes.
  table.settleStops();
  for (const [i, last] of [
    [0, 60],
    [1, 90],
  ] as const) {
    table.report(`run-${i}`, last - 1);
    table.report(`run-${i}`, last);
    table.end(`run-${i}`, "completed");
  }
  await look();
  t.false(actor.active);
  t.is(store.status, "completed");
  t.deepEqual(store.best, { trialId: "trial-1", metric: 90 });
  t.deepEqual(
    store.trialRows.map((x) => [x.status, x.finalMetric, x.steps]),
    [
      ["completed", 60, 400],
      ["completed", 90, 400],
      ["pruned", 30, 200],
      ["pruned", 10, 200],
    ],
  );
  t.is(events.log.at(-1), "sweep completed");
  t.is(clock.pending, 0, "an ended actor waits for nothing");
});

test("PBT: when a generation has ended, the worst member exploits the best one's checkpoint and the next generation is launched in the same look", async (t) => {
  const { table, store, launcher, actor, look } = setup({
    method: "pbt",
    totalSteps: 200,
    maxTrials: 2,
    maxConcurrent: 2,
    searchSpace: { learningRate: { loguniform: [1e-4, 1e-2] } },
    pbt: { perturbationInterval: 100, quantile: 0.25, resampleProbability: 0 },
  });
  await look();
  t.deepEqual(
    launcher.launched.map((x) => [x.index, x.generation]),
    [
      [0, 0],
      [1, 0],
    ],
  );
  table.report("run-0", 10);
  table.report("run-1", 40);
  await look();
  t.deepEqual(
    launcher.launched.map((x) => x.index),
    [0, 1],
    "a member still runs: no next generation",
  );
  table.end("run-0", "completed");
  table.end("run-1", "completed");
  await look();
  const next = launcher.launched.slice(2);
  t.deepEqual(
    next.map((x) => [x.index, x.member, x.generation, x.totalSteps, x.lineage?.exploited]),
    [
      [2, 0, 1, 200, true],
      [3, 1, 1, 200, false],
    ],
  );
  const best = store.trial(1);
  t.deepEqual(next[0]!.lineage!.initFrom, { runId: best.runId, iteration: 1 });
  t.is(next[0]!.lineage!.parentTrialId, best.id);
  const lr = next[0]!.params.learningRate as number;
  const from = best.params.learningRate as number;
  // Explore multiplies by 0.8 or 1.2, within the distribution's bounds (sweeps/pbt.ts).
  const within = (x: number) => Math.min(1e-2, Math.max(1e-4, x));
  t.true(
    lr === within(from * 0.8) || lr === within(from * 1.2),
    `${lr}: the best member's ${from}, perturbed`,
  );
  t.deepEqual(next[1]!.params, best.params);
  t.deepEqual(
    store.trialRows.map((x) => x.status),
    ["completed", "completed", "running", "running"],
  );

  // The last generation ends: the sweep completes with its best member, not an earlier one's.
  table.report(next[0]!.runId, 30);
  table.report(next[1]!.runId, 20);
  table.end(next[0]!.runId, "completed");
  table.end(next[1]!.runId, "completed");
  await look();
  t.false(actor.active);
  t.deepEqual(store.best, { trialId: "trial-2", metric: 30 });
});

test("launches stay within maxConcurrent, and a throttled launch waits for the next look", async (t) => {
  const { table, launcher, look } = setup({ maxConcurrent: 2 }, 1);
  await look();
  t.deepEqual(
    launcher.launched.map((x) => x.index),
    [0],
    "the owner's quota holds one run: the second launch is throttled",
  );
  table.report("run-0", 1);
  table.end("run-0", "completed");
  await look();
  t.deepEqual(
    launcher.launched.map((x) => x.index),
    [0, 1],
  );
});

test("a lost lease ends the actor without another write; the node that takes the sweep over goes on from the rows, launching nothing twice", async (t) => {
  const { definition, table, store, launcher, events, clock, actor, look } = setup({
    maxConcurrent: 2,
    earlyStopping: { type: "asha", gracePeriod: 100, reductionFactor: 2, rungs: [100] },
  });
  await look();
  table.report("run-0", 10);
  table.report("run-1", 20);
  store.leaseLost = true;
  const writes = store.writes.length;
  await look();
  t.false(actor.active);
  t.is(store.writes.length, writes, "no write after the lease was lost");
  t.deepEqual(
    store.trialRows.map((x) => x.rungs.length),
    [0, 0, 0, 0],
  );

  // The node that took the sweep over sees the same rows and runs: the same verdicts, no new run for a trial.
  store.leaseLost = false;
  const next = new SweepActor({ id: "sweep", ownerId: "owner", definition }, store, launcher, events, {
    pollMs: POLL_MS,
    newRunId: () => "never",
    clock,
  });
  const waiting = clock.nextTimer();
  next.activate();
  await waiting;
  t.deepEqual(
    store.trialRows.map((x) => [x.status, x.rungs.map((r) => r.continued)]),
    [
      ["running", [true]],
      ["running", [true]],
      ["pending", []],
      ["pending", []],
    ],
  );
  t.deepEqual(
    launcher.launched.map((x) => x.index),
    [0, 1],
  );
  await next.deactivate();
});

test("a stop request stops every trial's run, marks the trials stopped, then the sweep", async (t) => {
  const { table, store, launcher, events, actor, look } = setup({ maxConcurrent: 2 });
  await look();
  table.report("run-0", 7);
  await look();
  store.status = "stopping";
  await look();
  t.false(actor.active);
  t.deepEqual(launcher.stopped, ["run-0", "run-1"]);
  t.deepEqual(
    store.trialRows.map((x) => [x.status, x.finalMetric]),
    [
      ["stopped", 7],
      ["stopped", null],
      ["stopped", null],
      ["stopped", null],
    ],
  );
  t.is(await store.heartbeat(), "stopped");
  t.is(events.log.at(-1), "sweep stopped");
});
