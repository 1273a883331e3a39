import test from "ava";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import type { TrainerState } from "../../rl/ppo/ppo-learner.ts";
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
 * Issue 14, item 4, over the wire: with observation and reward normalisation, a run of 2 env runners
 * × 4 envs in a worker process over NATS (statistics sent with the weights, per-env moments returned
 * through the CBOR serializer and merged by the learner) is PPOTrainer's run with 8 envs: metrics,
 * checkpoint (statistics included) and evaluation (with frozen statistics), bit for bit.
 */

/** Pendulum truncates at 200 steps: 4 iterations × 64 steps cross it (normalised final observations). */
const BODY = {
  env: "Pendulum-v1",
  preset: "cleanrl" as const,
  seed: 6,
  totalSteps: 8 * 64 * 4,
  hyperparameters: {
    numEnvs: 8,
    numSteps: 64,
    numMinibatches: 4,
    updateEpochs: 2,
    normalizeObs: true,
    normalizeReward: true,
  },
};

function comparable(state: TrainerState): unknown {
  return {
    ...state,
    params: Array.from(state.params),
    adam: { step: state.adam.step, m: Array.from(state.adam.m), v: Array.from(state.adam.v) },
    counters: { ...state.counters, elapsedSeconds: 0 },
  };
}

test("a normalised run of 2 × 4 env runners over NATS equals PPOTrainer with 8 envs: metrics, statistics, evaluation", async (t) => {
  allowLongTest(t);
  const { controller: cluster } = await startWorkerCluster(t, {
    prefix: "norm-split",
    workers: [{ slots: 2 }],
  });
  const me = await accountWithRole(cluster, "researcher");
  const run = await launch(cluster, me.token, { ...BODY, resources: { runners: 2 } });
  const done = await waitForStatus(cluster, me.token, run.id, ["completed", "failed"], RUN_DEADLINE_MS);
  t.is(done.status, "completed", done.failureReason ?? "");

  const { trainer, points: local } = await trainLocally(BODY);
  t.teardown(() => trainer.dispose());
  t.deepEqual(deterministicPart(await metrics(cluster, me.token, run.id)), local, "metrics");

  const res = await cluster.authedFetch(me.token, `/api/v1/runs/${run.id}/checkpoint`);
  t.is(res.status, 200);
  const state = decodeCheckpoint(new Uint8Array(await res.arrayBuffer()));
  t.truthy(state.normalization?.obs && state.normalization.ret, "the checkpoint holds the statistics");
  t.deepEqual(comparable(state), comparable(trainer.getState()), "checkpoint");
  const episodes = done.evaluation?.episodes ?? 10;
  t.deepEqual(
    done.evaluation?.returns,
    trainer.evaluate(episodes, BODY.seed + 1_000_000).returns,
    "evaluation with frozen statistics",
  );
});
