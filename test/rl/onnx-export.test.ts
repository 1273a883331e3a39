import test from "ava";
import * as ort from "onnxruntime-node";
import { Rng } from "../../rl/core/rng.ts";
import { box, discrete } from "../../rl/core/spaces.ts";
import { makeVectorEnv } from "../../rl/envs/vector.ts";
import { exportPolicyOnnx, OnnxExportError } from "../../rl/export/onnx.ts";
import { Arena } from "../../rl/nn/arena.ts";
import { jsGemm } from "../../rl/nn/gemm.ts";
import { wasmGemm } from "../../rl/nn/gemm-wasm.ts";
import { MlpKernel } from "../../rl/nn/mlp.ts";
import { evaluatePolicy } from "../../rl/ppo/evaluation.ts";
import type { Activation } from "../../rl/ppo/hyperparameters.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { type NormalizationState, normalizeObsInto } from "../../rl/ppo/normalize.ts";
import type { TrainerState } from "../../rl/ppo/ppo-learner.ts";
import { greedyActions } from "../../rl/ppo/rollout.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

/**
 * The exported model, run by onnxruntime-node, against the platform's own deterministic policy
 * (MlpKernel forward with the evaluation's GEMM, then greedyActions). Discrete actions are equal
 * exactly. Box actions are equal to within a few float32 ulps: onnxruntime's GEMM sums in another
 * order (and with FMA) than the platform's kernels, so the last bits of a mean may differ (measured:
 * at most 6e-8 on Pendulum and MountainCarContinuous, over 1,024 observations).
 */

interface Trained {
  trainer: PPOTrainer;
  state: TrainerState;
  /** Observations the trained policy met (one rollout of numSteps × numEnvs), then as many random ones in [-2, 2). */
  obs: Float32Array;
  rows: number;
}

async function train(
  envId: string,
  activation: Activation,
  overrides: Record<string, unknown> = {},
): Promise<Trained> {
  const config = resolveHyperparameters(envId, "cleanrl", {
    totalTimesteps: 4 * 128 * 4,
    numEnvs: 4,
    numSteps: 128,
    seed: 11,
    activation,
    ...overrides,
  });
  const trainer = await PPOTrainer.create({ envId, config });
  for (let i = 0; i < 3; i++) await trainer.iterate();
  const rollout = trainer.collect();
  const rng = new Rng(5);
  const random = rollout.obs.map(() => 4 * rng.uniform() - 2);
  const obs = new Float32Array(2 * rollout.obs.length);
  obs.set(rollout.obs);
  obs.set(random, rollout.obs.length);
  return { trainer, state: trainer.getState(), obs, rows: 2 * rollout.numSteps * rollout.numEnvs };
}

/** Statistics as a VecNormalize would hold them after some training (any positive variances do). */
function statsFor(obsDim: number): NormalizationState {
  const mean = Array.from({ length: obsDim }, (_, i) => 0.1 * (i + 1) * (i % 2 === 0 ? 1 : -1));
  const variance = Array.from({ length: obsDim }, (_, i) => 0.3 + 0.7 * i);
  return { obs: { mean, var: variance, count: 4096 }, ret: null, clipObs: 2, clipReward: 10, epsilon: 1e-8 };
}

/** The observations as the platform's policy sees them under these statistics (normalize.ts). */
function normalizeObs(norm: NormalizationState, obs: Float32Array, obsDim: number): Float32Array {
  const rows = obs.length / obsDim;
  return normalizeObsInto(obs, rows, norm.obs!, norm.epsilon, norm.clipObs, new Float32Array(obs.length));
}

/** The platform's deterministic actions for a batch of (already normalised) observations. */
function platformActions(t: Trained, obs: Float32Array): Int32Array | Float32Array {
  const { spec, layout } = t.trainer.learner;
  const { value } = Arena.build((alloc) => ({
    p: alloc.alloc(layout.actor.size),
    actor: new MlpKernel(layout.actor, spec.activation, t.rows, alloc, wasmGemm() ?? jsGemm),
  }));
  value.p.set(t.state.params.subarray(0, layout.actor.size));
  const out = value.actor.forward(value.p, obs, t.rows);
  const actions =
    spec.action.kind === "discrete" ? new Int32Array(t.rows) : new Float32Array(t.rows * spec.action.dim);
  greedyActions(spec.action, out, t.rows, actions);
  return actions;
}

async function onnxActions(model: Uint8Array, obs: Float32Array, rows: number, obsDim: number) {
  const session = await ort.InferenceSession.create(model);
  const { action } = await session.run({ obs: new ort.Tensor("float32", obs, [rows, obsDim]) });
  return action!;
}

/**
 * A few iterations leave Acrobot's logits ruled by the head's bias (one action everywhere); its head
 * kernel is scaled up so that the observations decide and every action appears in the comparison.
 */
function sharpened(trained: Trained, factor: number): Trained {
  const params = trained.state.params.slice();
  const head = `actor.${trained.trainer.learner.layout.actor.layers.length - 1}.kernel`;
  const s = trained.state.tensors.find((s) => s.name === head)!;
  for (let i = s.offset; i < s.offset + s.size; i++) params[i] *= factor;
  return { ...trained, state: { ...trained.state, params } };
}

for (const [envId, activation, sharpen] of [
  ["CartPole-v1", "tanh", 1],
  ["CartPole-v1", "relu", 1],
  ["Acrobot-v1", "tanh", 100],
] as const) {
  test(`a ${envId} policy (${activation}) exported to ONNX gives exactly the platform's argmax actions, with and without normalisation statistics`, async (t) => {
    const trained = sharpened(await train(envId, activation), sharpen);
    const { obsDim } = trained.trainer.learner.spec;
    const plain = exportPolicyOnnx(trained.state);
    t.like(plain, { envId, obsDim, action: "discrete", normalized: false });
    const action = await onnxActions(plain.bytes, trained.obs, trained.rows, obsDim);
    t.is(action.type, "int64");
    t.deepEqual(action.dims, [trained.rows]);
    const expected = platformActions(trained, trained.obs);
    t.deepEqual(Array.from(action.data as BigInt64Array, Number), Array.from(expected));
    // Every action appears: the comparison means something.
    t.is(
      new Set(expected).size,
      trained.trainer.learner.spec.action.kind === "discrete" ? trained.trainer.learner.spec.action.n : 0,
    );

    const normalization = statsFor(obsDim);
    const folded = exportPolicyOnnx({ ...trained.state, normalization });
    t.true(folded.normalized);
    const normalized = await onnxActions(folded.bytes, trained.obs, trained.rows, obsDim);
    const expectedNormalized = platformActions(trained, normalizeObs(normalization, trained.obs, obsDim));
    t.deepEqual(Array.from(normalized.data as BigInt64Array, Number), Array.from(expectedNormalized));
    t.notDeepEqual(Array.from(expectedNormalized), Array.from(expected));
  });
}

for (const [envId, activation] of [
  ["Pendulum-v1", "tanh"],
  ["MountainCarContinuous-v0", "relu"],
] as const) {
  test(`a ${envId} policy (${activation}) exported to ONNX gives the platform's clipped means to within float32 rounding, with and without normalisation statistics`, async (t) => {
    const trained = await train(envId, activation);
    const { obsDim, action: space } = trained.trainer.learner.spec;
    if (space.kind !== "box") throw new Error("a Box env expected");
    // The cleanrl preset normalises Box envs: the state's own statistics are dropped, then set.
    const { normalization: _trained, ...bare } = trained.state;
    for (const normalization of [undefined, statsFor(obsDim)]) {
      const exported = exportPolicyOnnx({ ...bare, ...(normalization ? { normalization } : {}) });
      t.like(exported, { envId, action: "box", normalized: normalization !== undefined });
      const obs = normalization ? normalizeObs(normalization, trained.obs, obsDim) : trained.obs;
      const expected = platformActions(trained, obs) as Float32Array;
      const action = await onnxActions(exported.bytes, trained.obs, trained.rows, obsDim);
      t.is(action.type, "float32");
      t.deepEqual(action.dims, [trained.rows, space.dim]);
      const got = action.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      t.true(worst <= 1e-6, `largest difference ${worst}`);
      t.true(got.every((a, i) => a >= space.low[i % space.dim] && a <= space.high[i % space.dim]));
    }
  });
}

test("the bounds clip the exported means exactly as the platform's evaluation does", async (t) => {
  // Scale the head so that most means land outside [-2, 2]: the clipped values must be the bounds.
  const trained = sharpened(await train("Pendulum-v1", "tanh"), 1000);
  const action = await onnxActions(exportPolicyOnnx(trained.state).bytes, trained.obs, trained.rows, 3);
  const got = Array.from(action.data as Float32Array);
  t.true(got.filter((a) => a === 2 || a === -2).length > trained.rows / 2);
  t.true(got.every((a) => a >= -2 && a <= 2));
});

test("an episode driven by the exported CartPole model has the returns of the platform's evaluation, seed for seed", async (t) => {
  const trained = await train("CartPole-v1", "tanh");
  const episodes = 5;
  const seed = 123;
  const platform = evaluatePolicy(
    "CartPole-v1",
    trained.trainer.learner.spec,
    trained.state.params,
    episodes,
    seed,
    wasmGemm() ?? undefined,
  );
  const session = await ort.InferenceSession.create(exportPolicyOnnx(trained.state).bytes);
  const env = makeVectorEnv("CartPole-v1", episodes);
  let obs = env.reset({ seed });
  const returns = new Array<number>(episodes).fill(Number.NaN);
  while (returns.some(Number.isNaN)) {
    const { action } = await session.run({ obs: new ort.Tensor("float32", obs.slice(), [episodes, 4]) });
    const step = env.step(Int32Array.from(action!.data as BigInt64Array, Number));
    for (const e of step.episodes) if (Number.isNaN(returns[e.index])) returns[e.index] = e.return;
    obs = step.observations;
  }
  t.deepEqual(returns, platform.returns);
});

/** Returns of the first episode of each of `episodes` envs seeded seed + i, acting with the model. */
async function onnxEpisodes(model: Uint8Array, envId: string, episodes: number, seed: number) {
  const session = await ort.InferenceSession.create(model);
  const env = makeVectorEnv(envId, episodes);
  const obsDim = env.observationDim;
  let obs = env.reset({ seed });
  const returns = new Array<number>(episodes).fill(Number.NaN);
  while (returns.some(Number.isNaN)) {
    const { action } = await session.run({ obs: new ort.Tensor("float32", obs.slice(), [episodes, obsDim]) });
    const actions =
      action!.type === "int64"
        ? Int32Array.from(action!.data as BigInt64Array, Number)
        : (action!.data as Float32Array);
    const step = env.step(actions);
    for (const e of step.episodes) if (Number.isNaN(returns[e.index])) returns[e.index] = e.return;
    obs = step.observations;
  }
  return returns;
}

test("a CartPole policy trained with observation normalisation, exported with its statistics, plays the platform's evaluation episodes return for return", async (t) => {
  const trained = await train("CartPole-v1", "tanh", { normalizeObs: true, normalizeReward: true });
  const { normalization } = trained.state;
  t.truthy(normalization?.obs);
  const exported = exportPolicyOnnx(trained.state);
  t.true(exported.normalized);
  const platform = trained.trainer.evaluate(8, 77);
  t.deepEqual(await onnxEpisodes(exported.bytes, "CartPole-v1", 8, 77), platform.returns);
  // The statistics matter: without them the model plays other episodes.
  const raw = exportPolicyOnnx({ ...trained.state, normalization: undefined });
  t.notDeepEqual(await onnxEpisodes(raw.bytes, "CartPole-v1", 8, 77), platform.returns);
});

test("a Pendulum policy trained with gSDE and normalisation exports its mean action: the platform's clipped means to within float32 rounding, and its evaluation's returns", async (t) => {
  const trained = await train("Pendulum-v1", "tanh", {
    useSde: true,
    normalizeObs: true,
    normalizeReward: true,
  });
  t.deepEqual(trained.state.tensors.find((s) => s.name === "actor_logstd")?.shape, [64, 1]);
  const exported = exportPolicyOnnx(trained.state);
  const obs = normalizeObs(trained.state.normalization!, trained.obs, 3);
  const expected = platformActions(trained, obs) as Float32Array;
  const got = (await onnxActions(exported.bytes, trained.obs, trained.rows, 3)).data as Float32Array;
  t.true(
    got.every((a, i) => Math.abs(a - expected[i]) <= 1e-6),
    "clipped means",
  );
  const platform = trained.trainer.evaluate(4, 5);
  const returns = await onnxEpisodes(exported.bytes, "Pendulum-v1", 4, 5);
  for (const [i, r] of returns.entries())
    t.true(Math.abs(r - platform.returns[i]) <= 1e-3, `episode ${i}: ${r} vs ${platform.returns[i]}`);
});

test("the log-std (a vector, or gSDE's matrix) and the critic play no part in the exported model", async (t) => {
  const trained = await train("Pendulum-v1", "tanh");
  const before = exportPolicyOnnx(trained.state).bytes;
  const state = { ...trained.state, params: trained.state.params.slice() };
  for (const s of state.tensors.filter((s) => !s.name.startsWith("actor.")))
    state.params.fill(0.5, s.offset, s.offset + s.size);
  t.deepEqual(exportPolicyOnnx(state).bytes, before);
});

test("an env the exporter does not know is an error that names it; a custom env exports with its declared spaces", async (t) => {
  const trained = await train("CartPole-v1", "tanh");
  t.throws(() => exportPolicyOnnx({ ...trained.state, envId: "Nope-v9" }), {
    instanceOf: OnnxExportError,
    message: /"Nope-v9".*CartPole-v1/,
  });
  const custom = { ...trained.state, envId: "custom:0b9f4c1e-4a5d-4f51-9d8c-7d0a1c2b3e4f" };
  t.throws(() => exportPolicyOnnx(custom), {
    instanceOf: OnnxExportError,
    message: /custom:0b9f4c1e-4a5d-4f51-9d8c-7d0a1c2b3e4f.*spaces/,
  });
  const spaces = { observationSpace: box(-10, 10, [4]), actionSpace: discrete(2) };
  const exported = exportPolicyOnnx(custom, { spaces });
  const action = await onnxActions(exported.bytes, trained.obs, trained.rows, 4);
  t.deepEqual(
    Array.from(action.data as BigInt64Array, Number),
    Array.from(platformActions(trained, trained.obs)),
  );
  // A network trained on other spaces is refused, naming the env.
  t.throws(() => exportPolicyOnnx({ ...trained.state, envId: "Pendulum-v1" }), {
    instanceOf: OnnxExportError,
    message: /4 observations, Pendulum-v1 has 3/,
  });
});

test("the model names its input obs and its output action, and takes a batch of any size", async (t) => {
  const trained = await train("CartPole-v1", "tanh");
  const session = await ort.InferenceSession.create(exportPolicyOnnx(trained.state).bytes);
  t.deepEqual(session.inputNames, ["obs"]);
  t.deepEqual(session.outputNames, ["action"]);
  const one = await session.run({ obs: new ort.Tensor("float32", trained.obs.slice(0, 4), [1, 4]) });
  t.deepEqual(one.action!.dims, [1]);
  const many = await session.run({ obs: new ort.Tensor("float32", trained.obs.slice(0, 4 * 7), [7, 4]) });
  t.deepEqual(many.action!.dims, [7]);
});
