import test from "ava";
import { type MetricRecord, type RunDescriptor, TrainingRun } from "../../actors/training-run.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { ManualClock } from "./helpers/clock.ts";
import { MemoryRunnerPool, MemoryRunTable, RecordedRunEvents } from "./helpers/runs.ts";

/**
 * The TrainingRun actor itself, against its run's rows and a pool of env runners in memory: its
 * real learner (in its thread) and real EnvRunners on a tiny CartPole run, with the faults injected
 * at points the run cannot have passed (a hook on a runner's sample or on a stored iteration), and a
 * clock the test holds for the waits. The multi-process tests (test/runs/, test/faults/) drive the
 * same actor through the platform.
 */

const ENV = "CartPole-v1";
/** 2 runners × 2 envs × 32 steps = 128 steps per iteration, 6 iterations. */
const RUN: RunDescriptor = {
  id: "run",
  ownerId: "owner",
  envId: ENV,
  config: resolveHyperparameters(ENV, "cleanrl", {
    seed: 3,
    numEnvs: 4,
    numSteps: 32,
    numMinibatches: 2,
    updateEpochs: 2,
    hiddenSizes: [16, 16],
    totalTimesteps: 128 * 6,
  }),
  resources: { runners: 2, envsPerRunner: 2, gpu: false },
};
const ITERATIONS = 6;
/** A shard's sample number n belongs to iteration ⌊n / 2⌋ + 1 (two shards, sampled in order). */
const firstSampleOf = (iteration: number) => 2 * (iteration - 1);

function start(table: MemoryRunTable, pool: MemoryRunnerPool) {
  const events = new RecordedRunEvents();
  const clock = new ManualClock();
  const run = new TrainingRun(RUN, table.status, table.store(), pool, events, {
    checkpointEvery: 2,
    retryMs: 1_000,
    evaluationEpisodes: 0,
    learnerMemoryMb: 256,
    clock,
  });
  run.activate();
  return { run, events, clock };
}

/** A run's points without their wall-time keys, in iteration order. */
function deterministic(points: Iterable<MetricRecord>): MetricRecord[] {
  return [...points]
    .sort((a, b) => a.iteration - b.iteration)
    .map((p) => {
      const metrics = { ...p.metrics };
      for (const k of WALL_TIME_KEYS) delete metrics[k];
      return { ...p, metrics };
    });
}

const writesOf = (table: MemoryRunTable, epoch?: number) =>
  table.writes.filter((w) => epoch === undefined || w.epoch === epoch).map((w) => `${w.kind} ${w.detail}`);

/** The same run, undisturbed: what every disturbed run below must end up with. */
let undisturbed: Promise<{
  table: MemoryRunTable;
  events: RecordedRunEvents;
  pool: MemoryRunnerPool;
}> | null = null;
function baseline() {
  undisturbed ??= (async () => {
    const table = new MemoryRunTable();
    const pool = new MemoryRunnerPool({ a: 2 });
    const { run, events } = start(table, pool);
    await run.ended;
    return { table, events, pool };
  })();
  return undisturbed;
}

test("undisturbed: queued → running → completed, a point per iteration, a checkpoint every 2 and at the end, runners released", async (t) => {
  const { table, events, pool } = await baseline();
  t.is(table.status, "completed", table.failureReason ?? "");
  t.deepEqual(writesOf(table), [
    "transition queued → running",
    "iteration 1",
    "iteration 2",
    "checkpoint 2",
    "iteration 3",
    "iteration 4",
    "checkpoint 4",
    "iteration 5",
    "iteration 6",
    "checkpoint 6",
    "transition running → completed",
  ]);
  t.deepEqual(events.statuses, ["running", "completed"]);
  t.deepEqual(
    events.points.map((p) => p.globalStep),
    [128, 256, 384, 512, 640, 768],
  );
  t.is(pool.held, 0);
  t.is(table.runnersActive, 0);
});

test("a stop during an iteration stops the run at its last finished iteration, and a resume continues as if undisturbed", async (t) => {
  const table = new MemoryRunTable();
  const pool = new MemoryRunnerPool({ a: 2 });
  let run: TrainingRun | null = null;
  pool.onSample = async (_handle, n) => {
    if (n !== firstSampleOf(4)) return;
    // Iteration 4 is sampling: the user's stop is written, and its hint reaches the run.
    const seen = new Promise<void>((resolve) => {
      table.onStatusRead = (status) => status === "stopping" && resolve();
    });
    table.requestStop();
    run!.wake();
    await seen;
    // The run's reaction to what it read (a microtask) comes before this sample answers.
    await new Promise((resolve) => setImmediate(resolve));
  };
  const first = start(table, pool);
  run = first.run;
  await run.ended;
  t.is(table.status, "stopped");
  t.deepEqual([...table.points.keys()], [1, 2, 3], "iteration 4 was never learned");
  t.deepEqual([...table.checkpoints.keys()], [2, 3], "its last finished iteration is checkpointed");
  t.deepEqual(first.events.statuses, ["running", "stopped"]);
  t.is(pool.held, 0);

  // Resumed (services/runs/store.ts requestResume: back to the queue), it goes on from iteration 3.
  pool.onSample = null;
  table.onStatusRead = null;
  table.resume();
  const resumed = start(table, pool);
  await resumed.run.ended;
  t.is(table.status, "completed");
  const { table: expected } = await baseline();
  t.deepEqual(deterministic(table.points.values()), deterministic(expected.points.values()));
});

test("a lost lease: the run writes nothing more; the node that takes it over replays from the checkpoint, rewriting an iteration, never duplicating it", async (t) => {
  const table = new MemoryRunTable();
  const pool = new MemoryRunnerPool({ a: 2 });
  table.onIteration = (point) => {
    // Right after iteration 3 is stored (the last checkpoint is iteration 2's), another node takes over.
    if (point.iteration === 3 && table.epoch === 1) table.takeOver();
  };
  const first = start(table, pool);
  await first.run.ended;
  t.deepEqual(writesOf(table, 1).slice(-3), ["iteration 2", "checkpoint 2", "iteration 3"]);
  t.is(table.status, "running", "the old host moved nothing");
  t.is(pool.held, 0, "its runners are released");

  const second = start(table, pool);
  await second.run.ended;
  t.is(table.status, "completed");
  const { table: expected } = await baseline();
  const undisturbedWrites = writesOf(expected);
  t.deepEqual(
    writesOf(table, 2),
    undisturbedWrites.slice(undisturbedWrites.indexOf("iteration 3")),
    "from iteration 3 on, what the undisturbed run wrote",
  );
  t.is(table.points.size, ITERATIONS, "one point per iteration");
  t.deepEqual(deterministic(table.points.values()), deterministic(expected.points.values()));
});

test("fenced by its host during an iteration, the run ends without another write", async (t) => {
  const table = new MemoryRunTable();
  const pool = new MemoryRunnerPool({ a: 2 });
  let run: TrainingRun | null = null;
  let fenced: Promise<void> | null = null;
  pool.onSample = (_handle, n) => {
    if (n === firstSampleOf(3)) fenced = run!.fence();
  };
  run = start(table, pool).run;
  await run.ended;
  await fenced;
  t.deepEqual(writesOf(table), ["transition queued → running", "iteration 1", "iteration 2", "checkpoint 2"]);
  t.is(table.status, "running");
  t.is(pool.held, 0);
});

test("a runner lost mid-iteration is replaced from its shard's state: the run's metrics are those of the undisturbed run", async (t) => {
  const table = new MemoryRunTable();
  // One slot per node: shard 0 on a, shard 1 on b, and c spare.
  const pool = new MemoryRunnerPool({ a: 1, b: 1, c: 1 });
  pool.onSample = (_handle, n) => {
    if (n === firstSampleOf(3)) pool.kill("b");
  };
  const { run, events } = start(table, pool);
  await run.ended;
  t.is(table.status, "completed", table.failureReason ?? "");
  t.deepEqual(pool.log, ["kill b", "replacement run/r2 on c"]);
  t.is(writesOf(table).filter((w) => w.startsWith("iteration")).length, ITERATIONS);
  t.false(
    writesOf(table).some((w) => w.startsWith("runners")),
    "the run held two slots throughout",
  );
  const { table: expected } = await baseline();
  t.deepEqual(deterministic(table.points.values()), deterministic(expected.points.values()));
  t.deepEqual(deterministic(events.points), deterministic(expected.points.values()));
});

test("without runners the run waits on its clock, and a hint that slots were freed starts it at once", async (t) => {
  const table = new MemoryRunTable();
  const pool = new MemoryRunnerPool({ a: 1 });
  const clock = new ManualClock();
  const events = new RecordedRunEvents();
  const run = new TrainingRun(RUN, "queued", table.store(), pool, events, {
    checkpointEvery: 2,
    retryMs: 60_000,
    learnerMemoryMb: 256,
    clock,
  });
  const waiting = clock.nextTimer();
  run.activate();
  await waiting;
  t.is(clock.pending, 1, "a retry is set, and no time has passed");
  t.deepEqual(writesOf(table), [], "still queued: nothing written");
  t.is(pool.held, 0, "no half reservation is kept");

  // A second slot frees up; the workers' hint wakes the run, which trains without the retry's wait.
  pool.addNode("b", 1);
  table.onIteration = (point) => {
    if (point.iteration === 1) table.requestStop();
  };
  run.wake();
  await run.ended;
  t.is(clock.pending, 0);
  t.deepEqual(writesOf(table), [
    "transition queued → running",
    "iteration 1",
    "checkpoint 1",
    "transition stopping → stopped",
  ]);
});
