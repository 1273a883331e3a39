import test from "ava";
import type { RunStatus } from "../../contracts/run-status.ts";
import type { RungRecord } from "../../contracts/sweep-status.ts";
import {
  decideGeneration,
  decideLook,
  decideOutcome,
  decideStopAll,
  pbtDue,
  planLaunches,
  type RunProgress,
  type SweepObservation,
  type TrialPoint,
  type TrialRow,
} from "../../sweeps/decide.ts";
import { parseSweepDefinition, type SweepDefinitionInput } from "../../sweeps/definition.ts";

/**
 * The sweep actor's decisions (sweeps/decide.ts) as pure functions: rows, runs and curves in, rows'
 * patches, verdicts, runs to stop and launch plans out. No database, no actor, no clock.
 */

const NOW = new Date("2026-01-01T00:00:00Z");

/** A grid of 4 CartPole trials; ASHA at 100 and 200 steps with η = 2. */
const asha = parseSweepDefinition({
  name: "asha",
  env: "CartPole-v1",
  totalSteps: 400,
  searchSpace: { learningRate: { values: [1e-3, 3e-4, 1e-4, 3e-5] } },
  maxTrials: 4,
  maxConcurrent: 4,
  earlyStopping: { type: "asha", gracePeriod: 100, reductionFactor: 2 },
});

function definition(extra: Partial<SweepDefinitionInput>) {
  return parseSweepDefinition({
    name: "sweep",
    env: "CartPole-v1",
    totalSteps: 400,
    searchSpace: { learningRate: { values: [1e-3, 3e-4, 1e-4, 3e-5] } },
    maxTrials: 4,
    maxConcurrent: 2,
    ...extra,
  });
}

function trial(index: number, extra: Partial<TrialRow> = {}): TrialRow {
  return {
    id: `trial-${index}`,
    index,
    params: { learningRate: 1e-3 / (index + 1) },
    seed: 1,
    totalSteps: 400,
    runId: `run-${index}`,
    status: "running",
    rungs: [],
    lastMetric: null,
    finalMetric: null,
    steps: 0,
    iteration: 0,
    member: null,
    generation: null,
    lineage: null,
    ...extra,
  };
}

function run(status: RunStatus, iteration: number, extra: Partial<RunProgress> = {}): RunProgress {
  return { status, globalStep: iteration * 50, iteration, failureReason: null, ...extra };
}

/** A curve of one point per iteration of `steps` env steps: `values[i]` at iteration i + 1. */
function curve(values: readonly (number | null)[], steps = 50): TrialPoint[] {
  return values.map((value, i) => ({ iteration: i + 1, globalStep: (i + 1) * steps, value }));
}

/** What a look saw; each curve is new since the last look. */
function observe(
  trials: TrialRow[],
  runs: Record<string, RunProgress>,
  curves: Record<string, TrialPoint[]> = {},
): SweepObservation {
  return {
    trials,
    runs: new Map(Object.entries(runs)),
    curves: new Map(Object.entries(curves).map(([id, points]) => [id, { points, fresh: points.length }])),
    now: NOW,
  };
}

const record = (rung: number, value: number | null): RungRecord => ({
  rung,
  value,
  n: 1,
  keep: 1,
  cutoff: value,
  continued: true,
});

test("ASHA judges the trials at a rung in the order they reached it, keeping ⌈n/η⌉; equal values rank by arrival", (t) => {
  const trials = [0, 1, 2, 3].map((i) => trial(i));
  // Rung 100 is reached at a curve's first point at or past 100 steps. Trial 2 reached it first (its
  // 1st point, at 100 steps), trials 0 and 1 at their 2nd (index order between them), trial 3 last.
  const look = decideLook(
    asha,
    observe(
      trials,
      {
        "run-0": run("running", 2),
        "run-1": run("running", 2),
        "run-2": run("running", 1),
        "run-3": run("running", 3),
      },
      {
        "trial-0": curve([10, 500]),
        "trial-1": curve([10, 600]),
        "trial-2": curve([500], 100),
        "trial-3": curve([10, 20, 500], 40),
      },
    ),
  );
  t.deepEqual(
    look.verdicts.map((v) => [v.index, v.record.value, v.record.n, v.record.keep, v.record.cutoff, v.pruned]),
    [
      [2, 500, 1, 1, 500, false],
      [0, 500, 2, 1, 500, true], // ties trial 2, which came first
      [1, 600, 3, 2, 500, false], // better than both
      [3, 500, 4, 2, 500, true],
    ],
  );
  t.deepEqual(look.stop, ["run-0", "run-3"], "the pruned trials' runs, in verdict order");
  t.is(look.trials[0]!.status, "pruned");
  t.like(look.updates.get("trial-0"), {
    status: "pruned",
    rungs: [{ rung: 100, value: 500, n: 2, keep: 1, cutoff: 500, continued: false }],
    prunedRung: 100,
    prunedValue: 500,
    prunedCutoff: 500,
    finalMetric: 500,
    finishedAt: NOW,
  });
  t.is(trials[0]!.status, "running", "the observation is not changed");
});

test("a trial that only ties the cut does not push in: the earlier arrival holds its place", (t) => {
  // Two trials were judged at rung 100 before (10 and 8, restored from their rows): a third with 8
  // makes n = 3, keep = 2 and the cut 8, which it ties; the 8 that came first keeps the place.
  const trials = [
    trial(0, { rungs: [record(100, 10)], steps: 150 }),
    trial(1, { rungs: [record(100, 8)], steps: 150 }),
    trial(2),
  ];
  const look = decideLook(
    asha,
    observe(
      trials,
      { "run-0": run("running", 3), "run-1": run("running", 3), "run-2": run("running", 2) },
      { "trial-2": curve([5, 8]) },
    ),
  );
  t.deepEqual(look.verdicts, [
    {
      trialId: "trial-2",
      index: 2,
      record: { rung: 100, value: 8, n: 3, keep: 2, cutoff: 8, continued: false },
      pruned: true,
    },
  ]);
  t.deepEqual(look.stop, ["run-2"]);

  // One better than the cut continues, and is judged at one rung per look only.
  const better = decideLook(
    asha,
    observe(
      trials,
      { "run-0": run("running", 3), "run-1": run("running", 3), "run-2": run("running", 4) },
      { "trial-2": curve([5, 9, 9, 9]) },
    ),
  );
  t.deepEqual(
    better.verdicts.map((v) => [v.record.rung, v.record.continued, v.record.cutoff]),
    [[100, true, 9]],
  );
  t.deepEqual(better.stop, []);
});

test("a look follows the runs: pending → running, the latest metric, the end, a deleted run, a pruned trial still running", (t) => {
  const trials = [
    trial(0, { status: "pending" }),
    trial(1),
    trial(2),
    trial(3, { status: "pruned" }),
    trial(4, { status: "completed", steps: 100 }),
  ];
  const look = decideLook(
    definition({}),
    observe(
      trials,
      {
        "run-0": run("running", 1),
        "run-1": run("completed", 2),
        "run-3": run("stopping", 3),
        "run-4": run("completed", 2),
      },
      { "trial-0": curve([7]), "trial-1": curve([3, null]) },
    ),
  );
  t.deepEqual(look.updates.get("trial-0"), {
    status: "running",
    startedAt: NOW,
    lastMetric: 7,
    steps: 50,
    iteration: 1,
  });
  t.deepEqual(look.updates.get("trial-1"), {
    lastMetric: 3,
    steps: 100,
    iteration: 2,
    status: "completed",
    finalMetric: 3,
    finishedAt: NOW,
  });
  t.deepEqual(look.updates.get("trial-2"), {
    status: "failed",
    failureReason: "its run was deleted",
    finishedAt: NOW,
  });
  t.false(look.updates.has("trial-3"));
  t.false(look.updates.has("trial-4"), "its steps are the run's already");
  t.deepEqual(look.stop, ["run-3"], "a trial pruned before whose run still runs is stopped again");
  t.deepEqual(look.settled, ["trial-4"]);
});

test("launches: the pending trials in order, within maxConcurrent less the runs still active", (t) => {
  const def = definition({ maxConcurrent: 2 });
  const trials = [
    trial(0, { status: "pruned" }),
    trial(1, { status: "pending" }),
    trial(2, { status: "pending" }),
    trial(3, { status: "pending" }),
  ];
  // The pruned trial's run is still stopping: it holds a slot until it has stopped.
  const plan = planLaunches(def, trials, new Map([["run-0", run("stopping", 2)]]));
  t.is(plan.slots, 1);
  t.deepEqual(
    plan.queue.map((q) => [q.trial.index, q.resume]),
    [
      [1, false],
      [2, false],
      [3, false],
    ],
  );
  // A stopped trial's run is resumed, not created again; a full sweep launches nothing.
  const resumed = planLaunches(
    def,
    [trial(0, { status: "pending" })],
    new Map([["run-0", run("stopped", 2)]]),
  );
  t.deepEqual(
    resumed.queue.map((q) => q.resume),
    [true],
  );
  t.is(resumed.slots, 2);
  const full = planLaunches(
    def,
    trials,
    new Map([
      ["run-0", run("running", 1)],
      ["run-1", run("queued", 0)],
    ]),
  );
  t.is(full.slots, 0);
});

test("a sweep completes with its best trial by final metric once every trial has ended", (t) => {
  const def = definition({ mode: "min" });
  const ended = [
    trial(0, { status: "completed", finalMetric: 30 }),
    trial(1, { status: "pruned", finalMetric: 5 }),
    trial(2, { status: "completed", finalMetric: 20 }),
    trial(3, { status: "failed" }),
  ];
  t.deepEqual(decideOutcome(def, ended), { status: "completed", best: { trialId: "trial-2", metric: 20 } });
  t.is(decideOutcome(def, [...ended, trial(4)]), null, "a trial still runs");
  // No trial completed: the best of those with a metric; every trial failed: the sweep fails.
  t.deepEqual(
    decideOutcome(def, [trial(0, { status: "pruned", finalMetric: 9 }), trial(1, { status: "stopped" })]),
    {
      status: "completed",
      best: { trialId: "trial-0", metric: 9 },
    },
  );
  t.deepEqual(decideOutcome(def, [trial(0, { status: "failed" })]), {
    status: "failed",
    best: null,
    failureReason: "every trial failed",
  });
});

/** A PBT population of 4 over 3 segments of 100 steps; the bottom and top quantile are one member. */
const pbt = parseSweepDefinition({
  name: "pbt",
  env: "CartPole-v1",
  method: "pbt",
  totalSteps: 300,
  searchSpace: { learningRate: { loguniform: [1e-4, 1e-2] } },
  maxTrials: 4,
  pbt: { perturbationInterval: 100, quantile: 0.25, resampleProbability: 0 },
  seed: 5,
});

const member = (m: number, finalMetric: number | null, status: TrialRow["status"] = "completed") =>
  trial(m, { member: m, generation: 0, status, finalMetric, params: { learningRate: 1e-3 * (m + 1) } });

test("PBT: the worst member exploits the best one's checkpoint and explores from its hyperparameters; the others continue", (t) => {
  const members = [member(0, 10), member(1, 40), member(2, 20), member(3, 30)];
  t.is(pbtDue(pbt, [...members.slice(0, 3), member(3, null, "running")]), null, "a member still runs");
  const due = pbtDue(pbt, members)!;
  t.deepEqual(
    due.map((m) => m.id),
    members.map((m) => m.id),
  );
  const runs = new Map(members.map((m) => [m.runId, run("completed", 2)]));
  const next = decideGeneration(pbt, due, runs);
  if (next.kind !== "next") return t.fail(next.reason);
  t.deepEqual(
    next.trials.map((n) => [n.index, n.member, n.generation, n.totalSteps, n.lineage!.parentTrialId]),
    [
      [4, 0, 1, 200, "trial-1"],
      [5, 1, 1, 200, "trial-1"],
      [6, 2, 1, 200, "trial-2"],
      [7, 3, 1, 200, "trial-3"],
    ],
  );
  const exploited = next.trials[0]!;
  t.true(exploited.lineage!.exploited);
  t.deepEqual(exploited.lineage!.initFrom, { runId: "run-1", iteration: 2 });
  const lr = exploited.params.learningRate as number;
  t.true(lr === 2e-3 * 0.8 || lr === 2e-3 * 1.2, `${lr}: the best member's 2e-3, × 0.8 or × 1.2`);
  t.deepEqual(exploited.lineage!.perturbations.learningRate!.from, 2e-3);
  for (const kept of next.trials.slice(1)) {
    t.false(kept.lineage!.exploited);
    t.deepEqual(kept.params, members[kept.member!]!.params);
  }
  t.deepEqual(decideGeneration(pbt, due, runs), next, "the same stored results decide the same");
});

test("PBT: a failed member exploits too; a generation that all failed fails the sweep; the last generation ends it", (t) => {
  const members = [member(0, 50), member(1, null, "failed"), member(2, 20), member(3, 30)];
  const runs = new Map(members.map((m) => [m.runId, run(m.status === "failed" ? "failed" : "completed", 2)]));
  const next = decideGeneration(pbt, members, runs);
  if (next.kind !== "next") return t.fail(next.reason);
  t.deepEqual(
    next.trials.filter((n) => n.lineage!.exploited).map((n) => [n.member, n.lineage!.parentTrialId]),
    [[1, "trial-0"]],
    "the failed one, which ranks last (the bottom quantile is one member)",
  );

  const failed = [0, 1, 2, 3].map((m) => member(m, null, "failed"));
  t.deepEqual(decideGeneration(pbt, failed, new Map()), {
    kind: "failed",
    reason: "every member of PBT generation 0 failed",
  });

  const last = [0, 1, 2, 3].map((m) =>
    trial(8 + m, { member: m, generation: 2, status: "completed", finalMetric: m }),
  );
  t.is(pbtDue(pbt, last), null, "generation 2 of 3 is the last");
  t.deepEqual(decideOutcome(pbt, [...members, ...last]), {
    status: "completed",
    best: { trialId: "trial-11", metric: 3 },
  });
});

test("a stop request stops every active run and marks every trial not yet ended stopped", (t) => {
  const trials = [
    trial(0, { lastMetric: 4 }),
    trial(1, { status: "pending" }),
    trial(2, { status: "completed" }),
  ];
  const decision = decideStopAll(
    trials,
    new Map([
      ["run-0", run("running", 3)],
      ["run-2", run("completed", 8)],
    ]),
  );
  t.deepEqual(decision.stop, ["run-0"]);
  t.deepEqual(
    [...decision.updates],
    [
      ["trial-0", { status: "stopped", finalMetric: 4, steps: 150, iteration: 3 }],
      ["trial-1", { status: "stopped", finalMetric: null }],
    ],
  );
});
