import test from "ava";
import { EnvRunner, type RunnerSample } from "../../actors/env-runner.ts";
import { RunLearner } from "../../actors/learner.ts";
import { arenaMemoriesCreated } from "../../rl/nn/arena.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";

// A soak run's shape (bench/soak-learners.ts): CartPole, 4 envs × 32 steps.
const envId = "CartPole-v1";
const config = resolveHyperparameters(envId, "cleanrl", {
  seed: 5,
  numEnvs: 4,
  numSteps: 32,
  totalTimesteps: 4 * 32 * 4,
});
const spec = { envId, config, numEnvs: 4, index: 0 };

/** A sample without its wall times. */
function trajectories({ rollout, state }: RunnerSample): object {
  const { envSeconds: _env, inferenceSeconds: _inference, ...rest } = rollout;
  return { rollout: rest, state };
}

/** Two samples of a new runner with the learner's first weights, without their wall times. */
async function twoSamples(runner: EnvRunner, learner: RunLearner): Promise<object[]> {
  return [
    trajectories(await runner.sample(learner.weights())),
    trajectories(await runner.sample(learner.weights())),
  ];
}

// Serial: the Arenas' memories are per thread, and the count read here is this thread's.
test.serial(
  "runners built and closed one after another on a worker reuse one WebAssembly memory instead of leaving one per run to the garbage collector",
  async (t) => {
    const learner = await RunLearner.create(envId, config);
    const first = await EnvRunner.create(spec);
    const fresh = await twoSamples(first, learner);
    await first.close();
    const before = arenaMemoriesCreated();
    for (let run = 0; run < 40; run++) {
      const runner = await EnvRunner.create(spec);
      const again = await twoSamples(runner, learner);
      await runner.close();
      // A memory given back is as a new one: the same seeds sample the same trajectories.
      if (run === 0 || run === 39) t.deepEqual(again, fresh, `run ${run}`);
    }
    t.is(arenaMemoriesCreated() - before, 0, "no new WebAssembly memory for 40 runs");
  },
);

test.serial(
  "a runner closed while it samples gives its memory back only once the sample has ended, and samples no more",
  async (t) => {
    const learner = await RunLearner.create(envId, config);
    const reference = await EnvRunner.create(spec);
    const expected = trajectories(await reference.sample(learner.weights()));
    await reference.close();

    const runner = await EnvRunner.create(spec);
    const sampling = runner.sample(learner.weights());
    const closed = runner.close();
    // Built while the first still samples: it must not get (and zero) the memory being written.
    const next = await EnvRunner.create(spec);
    t.deepEqual(trajectories(await sampling), expected);
    await closed;
    await t.throwsAsync(runner.sample(learner.weights()), { message: /closed/ });
    t.deepEqual(trajectories(await next.sample(learner.weights())), expected);
    await next.close();
  },
);
