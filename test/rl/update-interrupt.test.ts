import test from "ava";
import { copyRollout } from "../../rl/ppo/distributed.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { UpdateInterruptedError } from "../../rl/ppo/learner.ts";
import { WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

/** Metrics without the wall-time keys. */
function deterministic(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

test("an update interrupted between minibatches undoes itself: the trainer is as before, and the update then gives the uninterrupted result", async (t) => {
  const envId = "Pendulum-v1";
  // Normalisation and gSDE: every piece of state an update touches (θ, Adam, the shuffling RNG, statistics).
  const config = resolveHyperparameters(envId, "cleanrl", {
    seed: 5,
    numEnvs: 4,
    numSteps: 16,
    numMinibatches: 4,
    updateEpochs: 3,
    hiddenSizes: [16, 16],
    totalTimesteps: 4 * 16 * 4,
    useSde: true,
    normalizeObs: true,
    normalizeReward: true,
  });
  const interrupted = await PPOTrainer.create({ envId, config });
  const reference = await PPOTrainer.create({ envId, config });
  for (let i = 0; i < 2; i++) {
    const rollout = copyRollout(interrupted.collector.collect());
    reference.collector.collect();
    const before = interrupted.getState();
    let asked = 0;
    // Five minibatches done (of twelve), the sixth is refused.
    const err = t.throws(() => interrupted.learn(rollout, performance.now(), () => ++asked > 5), {
      instanceOf: UpdateInterruptedError,
    });
    t.is(err?.minibatches, 5);
    t.deepEqual(interrupted.getState(), before, "nothing of the interrupted update is left");
    t.deepEqual(
      deterministic(interrupted.learn(rollout, performance.now(), () => false)),
      deterministic(reference.learn(rollout)),
      `iteration ${i + 1}`,
    );
    t.deepEqual(interrupted.learner.params, reference.learner.params);
  }
});
