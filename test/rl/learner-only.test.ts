import test from "ava";
import { spaceFromJson, spaceToJson } from "../../rl/core/spaces.ts";
import { codeEnvId, codeEnvSpaces, codeEnvSubmissionId, isCodeEnvId } from "../../rl/envs/code-env.ts";
import { EnvError } from "../../rl/envs/errors.ts";
import { builtinSpaces, makeEnv } from "../../rl/envs/registry.ts";
import { createRunnerCollector } from "../../rl/ppo/distributed.ts";
import { evaluatePolicy } from "../../rl/ppo/evaluation.ts";
import { presetFor, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { PPOLearner, WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

/**
 * A learner only (RLlib's Learner): a PPOLearner built from spaces alone, with no env of its own,
 * as a distributed run's host uses it for environments that exist only in the workers' sandboxes.
 */
const config = resolveHyperparameters("CartPole-v1", "cleanrl", {
  totalTimesteps: 128 * 5,
  numEnvs: 4,
  numSteps: 32,
  seed: 11,
});

const deterministic = (m: object) => {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
};

test("a learner fed by an outside collector learns exactly what the single-process trainer learns", async (t) => {
  const whole = await PPOTrainer.create({ envId: "CartPole-v1", config });
  const learner = await PPOLearner.create({
    envId: "CartPole-v1",
    config,
    spaces: builtinSpaces("CartPole-v1"),
  });
  const runner = await createRunnerCollector({ envId: "CartPole-v1", config, numEnvs: 4, index: 0 });
  for (let i = 0; i < 5; i++) {
    const expected = deterministic(await whole.iterate());
    runner.setPolicy(learner.policy, learner.weightsVersion);
    t.deepEqual(deterministic(learner.learn(runner.collect())), expected);
  }
  t.deepEqual(learner.params, whole.learner.params);
  // Its checkpoint carries the outside collector's state, and loads as a whole trainer.
  const state = learner.getState(runner.getState());
  t.is(state.rng.collector.policyVersion, learner.weightsVersion);
  const restored = await PPOTrainer.fromState(state);
  t.deepEqual(restored.collector.getState(), whole.collector.getState());
});

test("a learner only has no collector, and needs the runners' state for a checkpoint; its env is a label", async (t) => {
  const spaces = codeEnvSpaces({
    observationSpace: { kind: "box", shape: [3], low: [-1, null, 0], high: [1, null, 5] },
    actionSpace: { kind: "box", shape: [2], low: [-2, -2], high: [2, 2] },
    maxEpisodeSteps: 50,
    stateful: false,
  });
  const cfg = resolveHyperparameters("custom:x", "cleanrl", { totalTimesteps: 4096 }, "box");
  const learner = await PPOLearner.create({ envId: "custom:x", config: cfg, spaces });
  t.is(learner.spec.obsDim, 3);
  const actions = spaces.actionSpace as { low: Float32Array; high: Float32Array };
  t.deepEqual(learner.spec.action, { kind: "box", dim: 2, low: actions.low, high: actions.high });
  // No collector, no getState() without the collectors' state, no evaluation of its own (types say
  // so); its env id is a label, and evaluating on it needs the env, which only the sandbox has.
  t.false("collector" in learner || "evaluate" in learner);
  t.throws(() => evaluatePolicy(learner.envId, learner.spec, learner.params, 1, 0), {
    instanceOf: EnvError,
    message: /defined by code/,
  });
});

test("cleanrl's continuous-action defaults follow a code env's Box actions; zoo has no entry for it", (t) => {
  t.is(presetFor("custom:x", "cleanrl", "box").numSteps, 2048);
  t.is(presetFor("custom:x", "cleanrl", "discrete").numSteps, 128);
  t.throws(() => presetFor("custom:x", "zoo", "discrete"), { message: /no zoo preset/ });
});

test("spaces go to JSON and back with infinite bounds as null", (t) => {
  const space = makeEnv("CartPole-v1").observationSpace;
  const json = spaceToJson(space);
  // CartPole's velocities are unbounded (Gymnasium: np.finfo(np.float32).max is inf after the cast).
  t.deepEqual(json.kind === "box" && json.high.map((v) => v === null), [false, true, false, true]);
  const unbounded = spaceFromJson({ kind: "box", shape: [2], low: [null, 0], high: [1, null] });
  t.deepEqual(spaceToJson(unbounded), { kind: "box", shape: [2], low: [null, 0], high: [1, null] });
  t.deepEqual(spaceFromJson(spaceToJson(space)), space);
  t.throws(() => spaceFromJson({ kind: "box", shape: [1], low: [2], high: [1] }), { instanceOf: RangeError });
  t.deepEqual(spaceToJson(spaceFromJson({ kind: "discrete", n: 3 })), { kind: "discrete", n: 3 });
});

test("custom:<id> names an environment submission and is no registered env", (t) => {
  const id = codeEnvId("8f3c1a9e-0000-4000-8000-000000000000");
  t.true(isCodeEnvId(id));
  t.is(codeEnvSubmissionId(id), "8f3c1a9e-0000-4000-8000-000000000000");
  t.is(codeEnvSubmissionId("CartPole-v1"), null);
  t.throws(() => makeEnv(id), { instanceOf: EnvError, message: /defined by code/ });
});
