import test from "ava";
import { EnvRunner, type RunnerSample } from "../../actors/env-runner.ts";
import { RunLearner } from "../../actors/learner.ts";
import type { PublicRun } from "../../contracts/runs.ts";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { type Hyperparameters, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { type TrainerState, WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";
import type { TestPlatform } from "../helpers/platform.ts";
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
 * Issue 14, item 8: scaling out never changes the result. One run, its 8 envs split 1 × 8, 2 × 4 and
 * 4 × 2 over env runners in worker processes on a real NATS cluster, is the same run as `proxima
 * train` (PPOTrainer) with 8 envs: metrics, final checkpoint and evaluation, bit for bit (wall-time
 * keys aside); and a checkpoint of one split continues exactly in another.
 */

/** 8 envs × 32 steps = 256 steps per iteration, 6 iterations: many CartPole episode ends. */
const BODY = {
  env: "CartPole-v1",
  preset: "cleanrl" as const,
  seed: 9,
  totalSteps: 256 * 6,
  hyperparameters: { numEnvs: 8, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
};

/** A checkpoint's state without its wall time, as plain arrays for deepEqual. */
function comparable(state: TrainerState): unknown {
  return {
    ...state,
    params: Array.from(state.params),
    adam: { step: state.adam.step, m: Array.from(state.adam.m), v: Array.from(state.adam.v) },
    counters: { ...state.counters, elapsedSeconds: 0 },
  };
}

async function checkpointOf(api: TestPlatform, token: string, id: string): Promise<TrainerState> {
  const res = await api.authedFetch(token, `/api/v1/runs/${id}/checkpoint`);
  if (res.status !== 200) throw new Error(`checkpoint of ${id}: ${res.status}`);
  return decodeCheckpoint(new Uint8Array(await res.arrayBuffer()));
}

test("1 × 8, 2 × 4 and 4 × 2 env runners over NATS give proxima train's metrics, checkpoint and evaluation with 8 envs, bit for bit", async (t) => {
  allowLongTest(t);
  // Two worker processes of 4 slots: the three runs (7 runners) are served at once, all over NATS.
  const { controller: cluster } = await startWorkerCluster(t, {
    prefix: "split-test",
    workers: [
      { name: "w1", slots: 4 },
      { name: "w2", slots: 4 },
    ],
    // A checkpoint at iteration 3 for the runs that continue from it in another split (below).
    env: { RUN_CHECKPOINT_EVERY: "3" },
  });
  const me = await accountWithRole(cluster, "researcher");
  const splits = [1, 2, 4];
  const runs = await Promise.all(
    splits.map((runners) => launch(cluster, me.token, { ...BODY, resources: { runners } })),
  );
  t.deepEqual(
    runs.map((r) => r.resources),
    splits.map((runners) => ({ runners, envsPerRunner: 8 / runners, gpu: false })),
  );
  const done: PublicRun[] = [];
  for (const run of runs) {
    const d = await waitForStatus(cluster, me.token, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
    t.is(d.status, "completed", d.failureReason ?? "");
    done.push(d);
  }

  // proxima train --set numEnvs=8 …: the same trainer, in this process.
  const { trainer, points: local } = await trainLocally(BODY);
  t.teardown(() => trainer.dispose());
  t.true(
    local.some((p) => (p.metrics["charts/episodes"] ?? 0) > 0),
    "the run spans episode ends",
  );
  const expectedState = comparable(trainer.getState());
  const episodes = done[0]!.evaluation?.episodes ?? 10;
  const expectedEvaluation = trainer.evaluate(episodes, BODY.seed + 1_000_000).returns;

  for (const [i, run] of runs.entries()) {
    const what = `${splits[i]} × ${8 / splits[i]!}`;
    const points = await metrics(cluster, me.token, run.id);
    t.is(points.length, 6, what);
    t.deepEqual(deterministicPart(points), local, `${what}: metrics`);
    t.deepEqual(
      comparable(await checkpointOf(cluster, me.token, run.id)),
      expectedState,
      `${what}: checkpoint`,
    );
    t.deepEqual(done[i]!.evaluation?.returns, expectedEvaluation, `${what}: evaluation`);
  }

  // A checkpoint of one split continues exactly in another (runs created from it with initFrom, as
  // PBT's exploit step does): 2 × 4 → 4 × 2 and 4 × 2 → 1 × 8 from iteration 3.
  const resplit = [
    { from: runs[1]!, runners: 4 },
    { from: runs[2]!, runners: 1 },
  ];
  const continued = await Promise.all(
    resplit.map(({ from, runners }) =>
      launch(cluster, me.token, {
        ...BODY,
        resources: { runners },
        initFrom: { runId: from.id, iteration: 3 },
      }),
    ),
  );
  for (const [i, run] of continued.entries()) {
    const what = `${resplit[i]!.from.resources.runners} runners → ${resplit[i]!.runners}`;
    const d = await waitForStatus(cluster, me.token, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
    t.is(d.status, "completed", d.failureReason ?? "");
    t.deepEqual(
      deterministicPart(await metrics(cluster, me.token, run.id)),
      local.slice(3),
      `${what}: metrics`,
    );
    t.deepEqual(
      comparable(await checkpointOf(cluster, me.token, run.id)),
      expectedState,
      `${what}: checkpoint`,
    );
    t.deepEqual(d.evaluation?.returns, expectedEvaluation, `${what}: evaluation`);
  }
});

/** Metrics without the wall-time keys. */
function deterministic(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

/**
 * The TrainingRun's loop without a transport: a RunLearner and `runners` EnvRunners (restored, when
 * `from` is given, from a checkpoint blob as the TrainingRun restores its shards), `iterations` times.
 */
async function actorRun(
  envId: string,
  config: Hyperparameters,
  runners: number,
  iterations: number,
  from?: Uint8Array,
): Promise<{ metrics: Record<string, unknown>[]; checkpoint: Uint8Array }> {
  const learner = await RunLearner.create(envId, config, from);
  const E = config.numEnvs / runners;
  const envRunners = await Promise.all(
    Array.from({ length: runners }, (_, index) =>
      EnvRunner.create({ envId, config, numEnvs: E, index }, learner.runnerState(index * E, E)),
    ),
  );
  const out: Record<string, unknown>[] = [];
  let samples: RunnerSample[] = [];
  for (let i = 0; i < iterations; i++) {
    const weights = learner.weights();
    samples = await Promise.all(envRunners.map((r) => r.sample(weights)));
    out.push(
      deterministic(
        learner.learn(
          samples.map((s) => s.rollout),
          performance.now(),
        ),
      ),
    );
  }
  return { metrics: out, checkpoint: learner.checkpoint(samples.map((s) => s.state)) };
}

test("with gSDE and observation/reward normalisation, RunLearner and 1 × 8, 2 × 4, 4 × 2 EnvRunners equal PPOTrainer with 8 envs, also across a change of split", async (t) => {
  const envId = "Pendulum-v1";
  const iterations = 7; // 7 × 32 steps: every env truncates once (200 steps)
  const config = resolveHyperparameters(envId, "cleanrl", {
    seed: 9,
    numEnvs: 8,
    numSteps: 32,
    numMinibatches: 2,
    updateEpochs: 2,
    hiddenSizes: [16, 16],
    totalTimesteps: 8 * 32 * iterations,
    useSde: true,
    sdeSampleFreq: 4,
    normalizeObs: true,
    normalizeReward: true,
  });
  const trainer = await PPOTrainer.create({ envId, config });
  const expected: Record<string, unknown>[] = [];
  await trainer.train((m) => {
    expected.push(deterministic(m));
  });
  const expectedState = comparable(trainer.getState());
  for (const runners of [1, 2, 4]) {
    const run = await actorRun(envId, config, runners, iterations);
    t.deepEqual(run.metrics, expected, `${runners} runners: metrics`);
    t.deepEqual(
      comparable(decodeCheckpoint(run.checkpoint)),
      expectedState,
      `${runners} runners: checkpoint`,
    );
  }
  const half = 3;
  for (const [before, after] of [
    [2, 4],
    [4, 1],
  ] as const) {
    const first = await actorRun(envId, config, before, half);
    const rest = await actorRun(envId, config, after, iterations - half, first.checkpoint);
    t.deepEqual([...first.metrics, ...rest.metrics], expected, `${before} → ${after} runners: metrics`);
    t.deepEqual(
      comparable(decodeCheckpoint(rest.checkpoint)),
      expectedState,
      `${before} → ${after}: checkpoint`,
    );
  }
});
