import * as tf from "@tensorflow/tfjs-core";
import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { buildFusedEngine, initParameters, type NetworkSpec } from "../../rl/nn/actor-critic.ts";
import { initBackend } from "../../rl/nn/backend.ts";
import { jsGemm } from "../../rl/nn/gemm.ts";
import { wasmCovers, wasmGemm } from "../../rl/nn/gemm-wasm.ts";
import { orthogonalInit } from "../../rl/nn/init.ts";
import { TfjsActorCritic } from "../../rl/nn/tfjs-actor-critic.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

test.before(async () => {
  await initBackend("wasm");
});

test("orthogonal init gives orthonormal columns times the gain, reproducibly from the seed", (t) => {
  for (const [inDim, outDim] of [
    [64, 64],
    [4, 64],
    [64, 2],
  ]) {
    const w = new Float32Array(inDim * outDim);
    orthogonalInit(new Rng(7), inDim, outDim, Math.SQRT2, w);
    // The smaller side is orthonormal: WᵀW = 2I (tall) or WWᵀ = 2I (wide).
    const k = Math.min(inDim, outDim);
    let maxErr = 0;
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        let dot = 0;
        if (inDim >= outDim) for (let r = 0; r < inDim; r++) dot += w[r * outDim + a] * w[r * outDim + b];
        else for (let c = 0; c < outDim; c++) dot += w[a * outDim + c] * w[b * outDim + c];
        maxErr = Math.max(maxErr, Math.abs(dot - (a === b ? 2 : 0)));
      }
    }
    t.true(maxErr < 1e-5, `${inDim}×${outDim}: ${maxErr}`);
    const again = new Float32Array(inDim * outDim);
    orthogonalInit(new Rng(7), inDim, outDim, Math.SQRT2, again);
    t.deepEqual(again, w);
  }
});

function batchFor(spec: NetworkSpec, M: number, rng: Rng) {
  const outDim = spec.action.kind === "discrete" ? spec.action.n : spec.action.dim;
  const actDim = spec.action.kind === "discrete" ? 1 : outDim;
  const f = (n: number, g: () => number) => Float32Array.from({ length: n }, g);
  return {
    M,
    obs: f(M * spec.obsDim, () => rng.normal()),
    actions: f(M * actDim, () => (spec.action.kind === "discrete" ? rng.int(outDim) : rng.normal())),
    // Old log-probs and values near the new ones so that some ratios clip and some do not.
    logprobs: f(
      M,
      () => (spec.action.kind === "discrete" ? Math.log(1 / outDim) : -1.5 * outDim) + 0.3 * rng.normal(),
    ),
    advantages: f(M, () => rng.normal()),
    returns: f(M, () => rng.normal()),
    values: f(M, () => 0.3 * rng.normal()),
  };
}

const specs: Record<string, NetworkSpec> = {
  discrete: { obsDim: 4, action: { kind: "discrete", n: 3 }, hiddenSizes: [64, 64], activation: "tanh" },
  box: {
    obsDim: 3,
    action: { kind: "box", dim: 2, low: new Float32Array([-2, -2]), high: new Float32Array([2, 2]) },
    hiddenSizes: [64, 32],
    activation: "tanh",
  },
  relu: { obsDim: 6, action: { kind: "discrete", n: 2 }, hiddenSizes: [16, 16], activation: "relu" },
  // rl-zoo's MuJoCo network (256-256 ReLU) on HalfCheetah-v5's sizes: the `zoo` preset's.
  "zoo MuJoCo": {
    obsDim: 17,
    action: { kind: "box", dim: 6, low: new Float32Array(6).fill(-1), high: new Float32Array(6).fill(1) },
    hiddenSizes: [256, 256],
    activation: "relu",
  },
};

test("the WebAssembly GEMM computes tanh and ReLU layers itself, the JavaScript one only what it cannot", (t) => {
  for (const act of ["tanh", "relu"] as const) {
    t.true(wasmCovers(256, act), `${act}, 256 outputs`);
    t.true(wasmCovers(64, act), `${act}, 64 outputs`);
    t.false(wasmCovers(6, act), `${act}, 6 outputs: the scalar strip is linear only`);
  }
  t.true(wasmCovers(6, "linear"), "a head of 6 outputs");
  t.true(wasmCovers(1, "linear"), "the value head");
});

for (const [name, spec] of Object.entries(specs)) {
  for (const gemm of [jsGemm, wasmGemm()!]) {
    test(`fused ${gemm.name} kernel's loss and gradients equal tfjs autograd (${name} policy)`, (t) => {
      const M = 64;
      const { layout, ...value } = buildFusedEngine(spec, M, gemm);
      const rng = new Rng(3);
      initParameters(layout, value.params, rng);
      // Larger head weights and a non-zero log-std than at init, so every loss term matters.
      // On 256-wide layers 0.2 moves the means so far that every ratio leaves the clip range: 0.02 there.
      const perturbation = Math.max(...spec.hiddenSizes) > 64 ? 0.02 : 0.2;
      for (let i = 0; i < layout.actor.size; i++) value.params[i] += perturbation * rng.normal();
      for (let i = layout.logstd; i < layout.policySize; i++) value.params[i] = -0.3;
      const mb = batchFor(spec, M, rng);
      const coefs = { clipCoef: 0.2, clipVloss: true, entCoef: 0.01, vfCoef: 0.5 };
      const tfjs = new TfjsActorCritic(spec);
      const expectedGrads = new Float32Array(layout.size);
      const expected = tfjs.lossAndGrad(value.params, expectedGrads, mb, coefs);
      tfjs.dispose();
      const got = value.engine.lossAndGrad(value.params, value.grads, mb, coefs);
      for (const key of [
        "loss",
        "pg_loss",
        "v_loss",
        "entropy",
        "approx_kl",
        "old_approx_kl",
        "clipfrac",
      ] as const) {
        t.true(
          Math.abs(got[key] - expected[key]) < 1e-5 * (1 + Math.abs(expected[key])),
          `${key}: ${got[key]} vs ${expected[key]}`,
        );
      }
      t.true(got.clipfrac > 0 && got.clipfrac < 1, "the batch mixes clipped and unclipped samples");
      let maxErr = 0;
      let scale = 0;
      for (let i = 0; i < layout.size; i++) {
        maxErr = Math.max(maxErr, Math.abs(value.grads[i] - expectedGrads[i]));
        scale = Math.max(scale, Math.abs(expectedGrads[i]));
      }
      t.true(maxErr < 1e-5 * Math.max(1, scale), `max gradient difference ${maxErr} (scale ${scale})`);
    });
  }
}

test("the tfjs engine leaks no tensors across training iterations", async (t) => {
  const config = resolveHyperparameters("CartPole-v1", "cleanrl", {
    totalTimesteps: 4096,
    numSteps: 32,
    updateEpochs: 2,
  });
  const trainer = await PPOTrainer.create({ envId: "CartPole-v1", config, backend: "wasm", engine: "tfjs" });
  t.is(trainer.learner.engine.name, "tfjs");
  await trainer.iterate();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) await trainer.iterate();
  t.is(tf.memory().numTensors, before);
  trainer.dispose();
});
