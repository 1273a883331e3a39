import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { builtinSpaces } from "../../rl/envs/registry.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import {
  copyRollout,
  createRunnerCollector,
  mergeCollectorStates,
  mergeRollouts,
  runnerCollectorState,
} from "../../rl/ppo/distributed.ts";
import { type Hyperparameters, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import {
  type IterationMetrics,
  PPOLearner,
  type TrainerState,
  WALL_TIME_KEYS,
} from "../../rl/ppo/ppo-learner.ts";
import type { Rollout, RolloutCollector, RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

/**
 * Issue 14, item 8: a run depends on its seed and its number of envs, never on how the envs are split
 * over runners. Here without a transport: R collectors of E envs (as R env runners build them),
 * their rollouts merged in global env order and learned by a learner-only trainer (as the
 * TrainingRun's RunLearner does), against PPOTrainer with all R·E envs in one vector env.
 */

const NUM_ENVS = 8;

function configFor(envId: string, overrides: Partial<Hyperparameters>): Hyperparameters {
  return resolveHyperparameters(envId, "cleanrl", {
    seed: 9,
    numEnvs: NUM_ENVS,
    numMinibatches: 2,
    updateEpochs: 2,
    hiddenSizes: [16, 16],
    ...overrides,
  });
}

/** Metrics without the wall-time keys. */
function deterministic(m: IterationMetrics): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

/** A checkpoint's state without its wall time (elapsedSeconds), as plain arrays for deepEqual. */
function comparable(state: TrainerState): unknown {
  return {
    ...state,
    params: Array.from(state.params),
    adam: { step: state.adam.step, m: Array.from(state.adam.m), v: Array.from(state.adam.v) },
    counters: { ...state.counters, elapsedSeconds: 0 },
  };
}

/** The arrays of a rollout that must not depend on the split (timings excluded). */
function rolloutData(r: Rollout): unknown {
  return {
    numEnvs: r.numEnvs,
    obs: Array.from(r.obs),
    actions: Array.from(r.actions),
    logprobs: Array.from(r.logprobs),
    rewards: Array.from(r.rewards),
    terminated: Array.from(r.terminated),
    truncated: Array.from(r.truncated),
    nextObs: Array.from(r.nextObs),
    truncatedIndex: Array.from(r.truncatedIndex),
    truncatedObs: Array.from(r.truncatedObs),
    // Episodes are listed per runner; as a multiset they are the same.
    episodes: r.episodes.map((e) => `${e.return}/${e.length}`).sort(),
  };
}

/** A distributed run without a transport: `runners` collectors of NUM_ENVS / runners envs each. */
class SplitRun {
  private constructor(
    readonly learner: PPOLearner,
    private collectors: RolloutCollector[],
    private readonly envId: string,
  ) {}

  static async start(envId: string, config: Hyperparameters, runners: number): Promise<SplitRun> {
    const learner = await PPOLearner.create({ envId, config, spaces: builtinSpaces(envId) });
    return new SplitRun(learner, await SplitRun.collectors(envId, config, runners), envId);
  }

  private static collectors(
    envId: string,
    config: Hyperparameters,
    runners: number,
    whole?: RolloutCollectorState,
  ): Promise<RolloutCollector[]> {
    const E = NUM_ENVS / runners;
    return Promise.all(
      Array.from({ length: runners }, async (_, index) => {
        const c = await createRunnerCollector({ envId, config, numEnvs: E, index });
        if (whole) c.setState(runnerCollectorState(whole, index * E, E));
        return c;
      }),
    );
  }

  /** One iteration: every collector acts with the learner's policy; the merged batch is learned. */
  iterate(): { metrics: IterationMetrics; rollout: unknown } {
    const { version, policy } = this.weights();
    // The learner's normalisation statistics travel with the weights (actors/env-runner.ts).
    const normalization = this.learner.normalizationState();
    const parts = this.collectors.map((c) => {
      c.setPolicy(policy, version);
      c.setNormalization(normalization);
      return copyRollout(c.collect());
    });
    const merged = mergeRollouts(parts);
    const rollout = rolloutData(merged);
    return { metrics: this.learner.learn(merged), rollout };
  }

  state(): TrainerState {
    return this.learner.getState(mergeCollectorStates(this.collectors.map((c) => c.getState())));
  }

  /** Continues on `runners` fresh collectors restored from the whole run's state (a new split). */
  async resplit(runners: number): Promise<void> {
    const whole = this.state().rng.collector;
    this.collectors = await SplitRun.collectors(this.envId, this.learner.config, runners, whole);
  }

  private weights(): { version: number; policy: Float32Array } {
    return { version: this.learner.weightsVersion, policy: this.learner.policy.slice() };
  }
}

/** PPOTrainer with all NUM_ENVS envs: each iteration's rollout and metrics, and its final state. */
async function singleProcess(envId: string, config: Hyperparameters, iterations: number) {
  const trainer = await PPOTrainer.create({ envId, config });
  const steps: { metrics: Record<string, unknown>; rollout: unknown }[] = [];
  for (let i = 0; i < iterations; i++) {
    const r = trainer.collect();
    const rollout = rolloutData(r);
    steps.push({ metrics: deterministic(trainer.learn(r)), rollout });
  }
  return { steps, state: trainer.getState() };
}

const CASES = [
  // CartPole's random-policy episodes end within ~20 steps: several terminations per iteration.
  { envId: "CartPole-v1", numSteps: 16, iterations: 5 },
  // Pendulum truncates at 200 steps: 7 × 32 steps cross it (the final observations' bootstrap), and
  // cleanrl's continuous preset normalises observations and rewards (statistics sent with the weights).
  { envId: "Pendulum-v1", numSteps: 32, iterations: 7 },
] as const;

for (const { envId, numSteps, iterations } of CASES) {
  const config = configFor(envId, { numSteps, totalTimesteps: NUM_ENVS * numSteps * iterations });

  test(`${envId}: 1 × 8, 2 × 4 and 4 × 2 runners' merged rollouts, metrics and checkpoint are PPOTrainer's with 8 envs, bit for bit`, async (t) => {
    const expected = await singleProcess(envId, config, iterations);
    t.true(
      expected.steps.some((s) => (s.metrics["charts/episodes"] as number) > 0),
      "the run spans episode ends",
    );
    for (const runners of [1, 2, 4]) {
      const run = await SplitRun.start(envId, config, runners);
      for (let i = 0; i < iterations; i++) {
        const got = run.iterate();
        t.deepEqual(
          got.rollout,
          expected.steps[i]!.rollout,
          `${runners} runners, iteration ${i + 1}: rollout`,
        );
        t.deepEqual(
          deterministic(got.metrics),
          expected.steps[i]!.metrics,
          `${runners} runners, iteration ${i + 1}`,
        );
      }
      t.deepEqual(comparable(run.state()), comparable(expected.state), `${runners} runners: checkpoint`);
    }
  });

  test(`${envId}: a checkpoint of 2 runners resumes exactly in 4 runners, in 1, and in PPOTrainer`, async (t) => {
    const expected = await singleProcess(envId, config, iterations);
    const half = Math.floor(iterations / 2);
    for (const after of [4, 1]) {
      const run = await SplitRun.start(envId, config, 2);
      for (let i = 0; i < half; i++) run.iterate();
      await run.resplit(after);
      for (let i = half; i < iterations; i++)
        t.deepEqual(
          deterministic(run.iterate().metrics),
          expected.steps[i]!.metrics,
          `2 → ${after}, iteration ${i + 1}`,
        );
      t.deepEqual(comparable(run.state()), comparable(expected.state), `2 → ${after}: checkpoint`);
    }
    // The blob the TrainingRun writes (2 runners' merged state) is a PPOTrainer checkpoint that continues the same run.
    const run = await SplitRun.start(envId, config, 2);
    for (let i = 0; i < half; i++) run.iterate();
    const resumed = await PPOTrainer.fromState(decodeCheckpoint(encodeCheckpoint(run.state())));
    for (let i = half; i < iterations; i++)
      t.deepEqual(
        deterministic(await resumed.iterate()),
        expected.steps[i]!.metrics,
        `PPOTrainer, iteration ${i + 1}`,
      );
    t.deepEqual(comparable(resumed.getState()), comparable(expected.state));
  });
}

/** The collector state as checkpoints before per-env streams wrote it: one stream `rng`, no `rngs`. */
function legacy(state: TrainerState): TrainerState {
  const { rngs: _rngs, ...collector } = state.rng.collector;
  return {
    ...state,
    rng: {
      ...state.rng,
      collector: { ...collector, rng: new Rng(12345).getState() } as RolloutCollectorState,
    },
  };
}

test("a checkpoint from before per-env action streams loads, continues deterministically, and the same in any split", async (t) => {
  const envId = "CartPole-v1";
  const iterations = 4;
  const config = configFor(envId, { numSteps: 16, totalTimesteps: NUM_ENVS * 16 * iterations });
  const trainer = await PPOTrainer.create({ envId, config });
  await trainer.iterate();
  await trainer.iterate();
  const bytes = encodeCheckpoint(legacy(trainer.getState()));
  const decoded = decodeCheckpoint(bytes);
  t.is(
    (decoded.rng.collector as { rngs?: unknown }).rngs,
    undefined,
    "the old form: one stream for all envs",
  );
  t.truthy(decoded.rng.collector.rng);

  const continued = async () => {
    const resumed = await PPOTrainer.fromState(decodeCheckpoint(bytes));
    const out: Record<string, unknown>[] = [];
    while (!resumed.done) out.push(deterministic(await resumed.iterate()));
    return { metrics: out, state: comparable(resumed.getState()) };
  };
  const first = await continued();
  t.deepEqual(await continued(), first, "the same old checkpoint resumes the same way every time");
  t.is(first.metrics.length, 2);
  t.true(
    decodeCheckpoint(bytes).rng.collector.env.envs.length === NUM_ENVS,
    "the envs' states are the checkpoint's",
  );

  // Runners restored from the old whole-run state (cut per runner, as the TrainingRun does) continue
  // the same way as PPOTrainer: the streams derived for the old state depend on the global index only.
  for (const runners of [2, 4]) {
    const E = NUM_ENVS / runners;
    const learner = await PPOLearner.fromState(decodeCheckpoint(bytes), { spaces: builtinSpaces(envId) });
    const whole = decodeCheckpoint(bytes).rng.collector;
    const collectors = await Promise.all(
      Array.from({ length: runners }, async (_, index) => {
        const c = await createRunnerCollector({ envId, config, numEnvs: E, index });
        c.setState(runnerCollectorState(whole, index * E, E));
        return c;
      }),
    );
    const out: Record<string, unknown>[] = [];
    while (!learner.done) {
      const policy = learner.policy.slice();
      const parts = collectors.map((c) => {
        c.setPolicy(policy, learner.weightsVersion);
        return copyRollout(c.collect());
      });
      out.push(deterministic(learner.learn(mergeRollouts(parts))));
    }
    t.deepEqual(out, first.metrics, `${runners} runners from the old checkpoint`);
  }
});
