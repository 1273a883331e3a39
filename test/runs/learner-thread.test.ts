import { existsSync, readdirSync, readFileSync } from "node:fs";
import test from "ava";
import { EnvRunner, type RunnerSample } from "../../actors/env-runner.ts";
import { defaultEvaluationSeed, evaluateTrainedPolicy } from "../../actors/evaluation.ts";
import { RunLearner } from "../../actors/learner.ts";
import { LearnerFailedError, LearnerThread } from "../../actors/learner-thread.ts";
import { builtinSpaces } from "../../rl/envs/registry.ts";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { copyRollout } from "../../rl/ppo/distributed.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { type TrainerState, WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";

/** Metrics without the wall-time keys. */
function deterministic(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

/** A checkpoint without its wall time (SPS). */
function comparable(bytes: Uint8Array): TrainerState {
  const state = decodeCheckpoint(bytes);
  return { ...state, counters: { ...state.counters, elapsedSeconds: 0 } };
}

const envId = "Pendulum-v1";
// gSDE and observation/reward normalisation: every piece of a learner's state crosses the thread.
const config = resolveHyperparameters(envId, "cleanrl", {
  seed: 11,
  numEnvs: 4,
  numSteps: 32,
  numMinibatches: 2,
  updateEpochs: 2,
  hiddenSizes: [16, 16],
  totalTimesteps: 4 * 32 * 6,
  useSde: true,
  sdeSampleFreq: 4,
  normalizeObs: true,
  normalizeReward: true,
});
const spaces = builtinSpaces(envId);

test("a learner in its own thread gives the in-process RunLearner's weights, metrics, checkpoints and evaluation bit for bit, also restored from a checkpoint", async (t) => {
  const local = await RunLearner.create(envId, config);
  let thread = new LearnerThread({ envId, config, spaces, memoryMb: 256 });
  t.teardown(() => thread.terminate());
  await thread.ready;
  const runners = await Promise.all(
    [0, 1].map((index) => EnvRunner.create({ envId, config, numEnvs: 2, index })),
  );
  let samples: RunnerSample[] = [];
  for (let i = 1; i <= 6; i++) {
    const weights = thread.weights();
    t.deepEqual(weights, local.weights(), `weights before iteration ${i}`);
    samples = await Promise.all(runners.map((r) => r.sample(weights)));
    // The thread's copy is moved away (transferred), so the local learner gets its own.
    const expected = local.learn(
      samples.map((s) => copyRollout(s.rollout)),
      performance.now(),
    );
    const got = await thread.learn(
      samples.map((s) => s.rollout),
      performance.now(),
    );
    t.deepEqual(deterministic(got!), deterministic(expected), `iteration ${i}`);
    t.is(thread.iteration, i);
    t.is(thread.globalStep, local.globalStep);
    const states = samples.map((s) => s.state);
    const blob = await thread.checkpoint(states);
    t.deepEqual(comparable(blob), comparable(local.checkpoint(states)), `checkpoint ${i}`);
    if (i === 3) {
      // A run taken over: a fresh thread from the checkpoint continues exactly.
      await thread.terminate();
      thread = new LearnerThread({ envId, config, spaces, memoryMb: 256, checkpoint: blob });
      await thread.ready;
      t.is(thread.iteration, 3);
      const restored = await RunLearner.create(envId, config, blob);
      t.deepEqual(thread.runnerState(2, 2), restored.runnerState(2, 2));
    }
  }
  t.true(thread.done);
  const seed = defaultEvaluationSeed(config);
  t.deepEqual(
    await thread.evaluate(4, seed),
    await evaluateTrainedPolicy(envId, config, local.params, {
      episodes: 4,
      seed,
      normalization: local.normalizationState(),
    }),
  );
});

test("an interrupted learner answers null and keeps the state of its last finished update", async (t) => {
  const thread = new LearnerThread({ envId, config, spaces, memoryMb: 256 });
  t.teardown(() => thread.terminate());
  await thread.ready;
  const runner = await EnvRunner.create({ envId, config, numEnvs: 4, index: 0 });
  const first = await runner.sample(thread.weights());
  await thread.learn([first.rollout], performance.now());
  const before = comparable(await thread.checkpoint([first.state]));
  const second = await runner.sample(thread.weights());
  thread.interrupt();
  t.is(await thread.learn([second.rollout], performance.now()), null);
  t.is(thread.iteration, 1);
  t.deepEqual(comparable(await thread.checkpoint([first.state])), before);
});

/** The nice value of each thread of this process, by thread id (Linux: /proc/self/task/<tid>/stat, field 19). */
function threadNice(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      // After the command name in parentheses: field 3 (state) onwards, so field 19 is index 16.
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

// Serial: the other tests' learner threads would be counted too.
test.serial(
  "a learner's thread runs at nice 10, below the process's threads that serve requests",
  async (t) => {
    if (!existsSync("/proc/thread-self")) return t.pass("not Linux: threads keep the process's priority");
    const before = threadNice();
    const thread = new LearnerThread({ envId, config, spaces, memoryMb: 256 });
    t.teardown(() => thread.terminate());
    await thread.ready;
    const started = [...threadNice()].filter(([tid]) => !before.has(tid));
    t.deepEqual(
      started.filter(([, nice]) => nice === 10).length,
      1,
      `the threads started with the learner, by id and nice: ${JSON.stringify(started)}`,
    );
    t.true(
      [...before.values()].every((nice) => nice === 0),
      "and the process's own threads are at 0",
    );
  },
);

test("a learner thread that exceeds its heap fails with the reason, and the process that hosted it stays up", async (t) => {
  const thread = new LearnerThread(
    { envId, config, spaces, memoryMb: 256 },
    // A heap far below what loading the learner takes.
    { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 },
  );
  const err = await t.throwsAsync(thread.ready, { instanceOf: LearnerFailedError });
  t.regex(err!.message, /ran out of memory/);
  await t.throwsAsync(thread.checkpoint([]), { instanceOf: LearnerFailedError }, "and stays failed");
});

test("a network larger than the learner's memory cap fails before its buffers are taken, naming the cap", async (t) => {
  const big = resolveHyperparameters(envId, "cleanrl", { ...config, hiddenSizes: [1024, 1024] });
  const thread = new LearnerThread({ envId, config: big, spaces, memoryMb: 16 });
  t.teardown(() => thread.terminate());
  const err = await t.throwsAsync(thread.ready, { instanceOf: LearnerFailedError });
  t.regex(err!.message, /exceeded its memory limit: .*16 MiB.*RUN_LEARNER_MEMORY_MB/);
});
