import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs-core";
import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { builtinSpaces } from "../../rl/envs/registry.ts";
import { makeVectorEnv } from "../../rl/envs/vector.ts";
import {
  buildFusedEngine,
  gsdeVariance,
  initParameters,
  type Minibatch,
  type NetworkSpec,
  parameterLayout,
} from "../../rl/nn/actor-critic.ts";
import { Arena } from "../../rl/nn/arena.ts";
import { initBackend } from "../../rl/nn/backend.ts";
import { jsGemm } from "../../rl/nn/gemm.ts";
import { wasmGemm } from "../../rl/nn/gemm-wasm.ts";
import { MlpKernel } from "../../rl/nn/mlp.ts";
import { tensorSlices } from "../../rl/nn/tensors.ts";
import { TfjsActorCritic } from "../../rl/nn/tfjs-actor-critic.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { copyRollout, createRunnerCollector, mergeRollouts } from "../../rl/ppo/distributed.ts";
import { gsdeStd, sampleActionsSde } from "../../rl/ppo/gsde.ts";
import {
  HyperparameterError,
  resolveHyperparameters,
  validateHyperparameters,
} from "../../rl/ppo/hyperparameters.ts";
import type { LossCoefficients } from "../../rl/ppo/loss.ts";
import { PPOLearner, WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { actionStreams, RolloutCollector } from "../../rl/ppo/rollout.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";
import { maxErr } from "../helpers/compare.ts";

/** One case of test/rl/fixtures/reference/gsde.json.gz, recorded by scripts/reference/record_gsde.py. */
interface GsdeCase {
  name: string;
  obsDim: number;
  actDim: number;
  hiddenSizes: number[];
  latentDim: number;
  coefs: LossCoefficients;
  params: number[];
  batch: Record<"obs" | "actions" | "logprobs" | "advantages" | "returns" | "values", number[]> & {
    M: number;
  };
  variance: number[];
  logprob: number[];
  entropy: number[];
  loss: number;
  grads: number[];
  noise: {
    nEnvs: number;
    latent: number[];
    explorationMatrices: number[];
    noise: number[];
    actions: number[];
    logprobs: number[];
  };
}

const fixture = JSON.parse(
  gunzipSync(readFileSync(new URL("fixtures/reference/gsde.json.gz", import.meta.url))).toString("utf8"),
) as { source: string; cases: GsdeCase[] };

test.before(async () => {
  await initBackend("wasm");
});

function specOf(c: GsdeCase): NetworkSpec {
  const bound = new Float32Array(c.actDim).fill(1);
  return {
    obsDim: c.obsDim,
    action: { kind: "box", dim: c.actDim, low: bound.map((b) => -b), high: bound },
    hiddenSizes: c.hiddenSizes,
    activation: "tanh",
    useSde: true,
  };
}

function minibatchOf(c: GsdeCase, rows?: [number, number]): Minibatch {
  const [from, to] = rows ?? [0, c.batch.M];
  const d = c.actDim;
  const f = (a: number[], w: number) => Float32Array.from(a.slice(from * w, to * w));
  return {
    M: to - from,
    obs: f(c.batch.obs, c.obsDim),
    actions: f(c.batch.actions, d),
    logprobs: f(c.batch.logprobs, 1),
    advantages: f(c.batch.advantages, 1),
    returns: f(c.batch.returns, 1),
    values: f(c.batch.values, 1),
  };
}

/** The tensor where two gradients differ most, for failure messages. */
function worst(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  layout: ReturnType<typeof parameterLayout>,
): string {
  let name = "";
  let max = -1;
  for (const s of tensorSlices(layout)) {
    for (let i = s.offset; i < s.offset + s.size; i++) {
      const e = Math.abs(got[i]! - want[i]!);
      if (e > max) [max, name] = [e, s.name];
    }
  }
  return `worst in ${name}`;
}

const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * (1 + Math.abs(b));

for (const c of fixture.cases) {
  test(`the log-std matrix has SB3's shape and the layout holds SB3's policy (${c.name})`, (t) => {
    const layout = parameterLayout(specOf(c));
    t.deepEqual(layout.logstdShape, [c.latentDim, c.actDim]);
    t.is(layout.size, c.params.length);
    const logstd = tensorSlices(layout).find((s) => s.name === "actor_logstd")!;
    t.deepEqual(logstd.shape, [64, c.actDim]);
  });

  test(`gSDE variance, log-prob and entropy per row equal SB3's StateDependentNoiseDistribution (${c.name})`, (t) => {
    const spec = specOf(c);
    const { layout, engine, params, grads } = buildFusedEngine(spec, c.batch.M, jsGemm);
    params.set(c.params);
    // Variance through the actor's own forward (latent = last hidden features).
    const M = c.batch.M;
    const H = c.latentDim;
    const d = c.actDim;
    const actor = new MlpKernel(layout.actor, "tanh", M, { alloc: (n) => new Float32Array(n) }, jsGemm);
    actor.forward(params.subarray(0, layout.actor.size), Float32Array.from(c.batch.obs), M);
    const variance = new Float32Array(M * d);
    gsdeVariance(
      jsGemm,
      actor.hidden(),
      params.subarray(layout.logstd, layout.policySize),
      M,
      H,
      d,
      new Float32Array(M * H),
      new Float32Array(H * d),
      new Float32Array(d),
      variance,
    );
    const v = maxErr(variance, c.variance);
    t.true(v.err <= 1e-5 * Math.max(1, v.scale), `variance: ${v.err} (scale ${v.scale})`);
    // Log-prob and entropy of each row: a one-row minibatch with old log-prob 0 reports
    // old_approx_kl = −newlogprob, and its entropy.
    for (let i = 0; i < M; i++) {
      const mb = minibatchOf(c, [i, i + 1]);
      mb.logprobs[0] = 0;
      const stats = engine.lossAndGrad(params, grads, mb, c.coefs);
      t.true(
        close(-stats.old_approx_kl, c.logprob[i]!),
        `row ${i}: ${-stats.old_approx_kl} vs ${c.logprob[i]}`,
      );
      t.true(close(stats.entropy, c.entropy[i]!), `row ${i}: entropy ${stats.entropy} vs ${c.entropy[i]}`);
    }
  });

  test(`fused and tfjs gSDE gradients agree to 1e-5 on SB3's policy (${c.name})`, (t) => {
    const spec = specOf(c);
    const mb = minibatchOf(c);
    const want = new Float32Array(c.params.length);
    const tfjs = new TfjsActorCritic(spec);
    const expected = tfjs.lossAndGrad(Float32Array.from(c.params), want, mb, c.coefs);
    tfjs.dispose();
    for (const gemm of [jsGemm, wasmGemm()!]) {
      const f = buildFusedEngine(spec, c.batch.M, gemm);
      f.params.set(c.params);
      const got = f.engine.lossAndGrad(f.params, f.grads, mb, c.coefs);
      t.true(close(got.loss, expected.loss), `${gemm.name} loss ${got.loss} vs ${expected.loss}`);
      // As test/rl/nn.test.ts: the largest difference over θ within 1e-5 of the largest gradient.
      const { err, scale } = maxErr(f.grads, want);
      t.true(
        err <= 1e-5 * Math.max(1, scale),
        `${gemm.name}: ${err} (scale ${scale}) ${worst(f.grads, want, f.layout)}`,
      );
    }
  });

  for (const engineName of ["fused-js", "fused-wasm", "tfjs"] as const) {
    test(`${engineName}: the PPO loss and every gradient equal torch autograd through SB3's gSDE policy (${c.name})`, (t) => {
      const spec = specOf(c);
      const mb = minibatchOf(c);
      const grads = new Float32Array(c.params.length);
      let loss: number;
      if (engineName === "tfjs") {
        const tfjs = new TfjsActorCritic(spec);
        loss = tfjs.lossAndGrad(Float32Array.from(c.params), grads, mb, c.coefs).loss;
        tfjs.dispose();
      } else {
        const f = buildFusedEngine(spec, c.batch.M, engineName === "fused-js" ? jsGemm : wasmGemm()!);
        f.params.set(c.params);
        loss = f.engine.lossAndGrad(f.params, f.grads, mb, c.coefs).loss;
        grads.set(f.grads);
      }
      t.true(close(loss, c.loss), `loss ${loss} vs ${c.loss}`);
      const layout = parameterLayout(spec);
      const { err, scale } = maxErr(grads, c.grads);
      t.true(err <= 1e-5 * Math.max(1, scale), `${err} (scale ${scale}) ${worst(grads, c.grads, layout)}`);
      // The log-std matrix and the mean path both carry gradient.
      for (const s of tensorSlices(layout))
        t.true(c.grads.slice(s.offset, s.offset + s.size).some((g) => g !== 0));
    });
  }

  test(`gSDE actions are mean + latent·E_i with SB3's log-prob, one exploration matrix per env (${c.name})`, (t) => {
    const spec = specOf(c);
    const layout = parameterLayout(spec);
    const { nEnvs } = c.noise;
    const H = c.latentDim;
    const d = c.actDim;
    const params = Float32Array.from(c.params);
    const actor = new MlpKernel(layout.actor, "tanh", nEnvs, { alloc: (n) => new Float32Array(n) }, jsGemm);
    const mean = actor.forward(params.subarray(0, layout.actor.size), Float32Array.from(c.batch.obs), nEnvs);
    const latent = actor.hidden();
    t.true(maxErr(latent, c.noise.latent).err < 1e-6);
    const stdSq = new Float64Array(H * d);
    gsdeStd(params.subarray(layout.logstd, layout.policySize), new Float64Array(H * d), stdSq);
    const actions = new Float32Array(nEnvs * d);
    const envActions = new Float32Array(nEnvs * d);
    const logprobs = new Float32Array(nEnvs);
    if (spec.action.kind !== "box") throw new Error("box");
    sampleActionsSde(
      spec.action,
      mean,
      latent,
      stdSq,
      Float32Array.from(c.noise.explorationMatrices),
      H,
      nEnvs,
      envActions,
      actions,
      logprobs,
    );
    const a = maxErr(actions, c.noise.actions);
    t.true(a.err <= 1e-5 * Math.max(1, a.scale), `actions: ${a.err}`);
    for (let i = 0; i < nEnvs; i++) t.true(close(logprobs[i]!, c.noise.logprobs[i]!), `env ${i} log-prob`);
    for (let i = 0; i < nEnvs * d; i++) t.is(envActions[i], Math.min(Math.max(actions[i]!, -1), 1));
  });
}

test("fused gSDE gradients (log-std matrix, mean path, critic) equal tfjs autograd on a random network", (t) => {
  const spec: NetworkSpec = {
    obsDim: 5,
    action: { kind: "box", dim: 3, low: new Float32Array(3).fill(-2), high: new Float32Array(3).fill(2) },
    hiddenSizes: [32, 16],
    activation: "tanh",
    useSde: true,
  };
  const M = 48;
  const rng = new Rng(11);
  for (const gemm of [jsGemm, wasmGemm()!]) {
    const { layout, engine, params, grads } = buildFusedEngine(spec, M, gemm);
    initParameters(layout, params, new Rng(3), { orthoInit: false, logStdInit: -1 });
    for (let i = layout.logstd; i < layout.policySize; i++) params[i] = -1 + 0.5 * rng.normal();
    const f = (n: number, g: () => number) => Float32Array.from({ length: n }, g);
    const mb: Minibatch = {
      M,
      obs: f(M * 5, () => rng.normal()),
      actions: f(M * 3, () => 0.5 * rng.normal()),
      logprobs: f(M, () => -2 + 0.5 * rng.normal()),
      advantages: f(M, () => rng.normal()),
      returns: f(M, () => rng.normal()),
      values: f(M, () => 0.3 * rng.normal()),
    };
    const coefs = { clipCoef: 0.2, clipVloss: true, entCoef: 0.01, vfCoef: 0.5 };
    const tfjs = new TfjsActorCritic(spec);
    const want = new Float32Array(layout.size);
    const expected = tfjs.lossAndGrad(params, want, mb, coefs);
    tfjs.dispose();
    const got = engine.lossAndGrad(params, grads, mb, coefs);
    for (const key of ["loss", "pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac"] as const)
      t.true(close(got[key], expected[key]), `${gemm.name} ${key}: ${got[key]} vs ${expected[key]}`);
    for (const s of tensorSlices(layout)) {
      const { err, scale } = maxErr(
        grads.subarray(s.offset, s.offset + s.size),
        want.subarray(s.offset, s.offset + s.size),
      );
      t.true(scale > 0, `${s.name} has a gradient`);
      t.true(err <= 1e-5 * Math.max(1, scale), `${gemm.name} ${s.name}: ${err} (scale ${scale})`);
    }
  }
});

/**
 * Replays a gSDE rollout from the collector's streams as they were before it: env i's exploration
 * matrix drawn from env i's stream at step 0 and every `freq` steps (freq > 0), and each action
 * mean + latent·E_i. Answers the largest difference from the recorded actions and the streams'
 * states after the replay.
 */
function replayRollout(
  collector: RolloutCollector,
  streams: Rng[],
  freq: number,
  actor: MlpKernel,
  H: number,
) {
  const r = collector.collect();
  const N = r.numEnvs;
  const policy = collector.policy;
  const logstd = policy.subarray(actor.layout.size);
  const E = new Float64Array(N * H);
  let maxDiff = 0;
  for (let t = 0; t < r.numSteps; t++) {
    if (t === 0 || (freq > 0 && t % freq === 0)) {
      for (let i = 0; i < N; i++)
        for (let j = 0; j < H; j++) E[i * H + j] = Math.fround(Math.exp(logstd[j]!) * streams[i]!.normal());
    }
    const mean = actor.forward(
      policy.subarray(0, actor.layout.size),
      r.obs.subarray(t * N * 3, (t + 1) * N * 3),
      N,
    );
    const latent = actor.hidden();
    for (let i = 0; i < N; i++) {
      let noise = 0;
      for (let j = 0; j < H; j++) noise += latent[i * H + j]! * E[i * H + j]!;
      maxDiff = Math.max(maxDiff, Math.abs(r.actions[t * N + i]! - (mean[i]! + noise)));
    }
  }
  return { maxDiff, rollout: r };
}

for (const freq of [-1, 4]) {
  test(`exploration matrices are drawn per env from its own stream at the rollout's start${freq > 0 ? ` and every ${freq} steps` : " only"} (sdeSampleFreq ${freq})`, (t) => {
    const seed = 1;
    const numSteps = 10;
    const env = makeVectorEnv("Pendulum-v1", 3);
    const layout = parameterLayout({ ...specPendulum, hiddenSizes: [8, 8] });
    const { value } = Arena.build((alloc) => {
      const actor = new MlpKernel(layout.actor, "tanh", 3, alloc, jsGemm);
      const collector = new RolloutCollector(
        env,
        specPendulum.action,
        actor,
        layout.policySize,
        numSteps,
        actionStreams(seed, 0, 3),
        alloc,
        { sampleFreq: freq },
      );
      return { actor, collector };
    });
    const params = new Float32Array(layout.size);
    initParameters(layout, params, new Rng(1), { logStdInit: -0.5 });
    // Make the mean and the log-std matrix non-trivial.
    const rng = new Rng(2);
    for (let i = 0; i < layout.policySize; i++) params[i] += 0.3 * rng.normal();
    value.collector.setPolicy(params.subarray(0, layout.policySize), 1);
    value.collector.reset(seed);
    const replayActor = new MlpKernel(layout.actor, "tanh", 3, { alloc: (n) => new Float32Array(n) }, jsGemm);
    // Two rollouts: matrices are drawn again at the second's start.
    for (let k = 0; k < 2; k++) {
      const streams = value.collector.rngs.map((r) => Rng.fromState(r.getState()));
      const { maxDiff } = replayRollout(value.collector, streams, freq, replayActor, 8);
      t.true(maxDiff < 1e-5, `rollout ${k}: actions differ from the replay by ${maxDiff}`);
      // Exactly one matrix per env per sampling point was drawn: the streams end where the replay's do.
      t.deepEqual(
        value.collector.rngs.map((r) => r.getState()),
        streams.map((r) => r.getState()),
      );
    }
  });
}

const specPendulum: NetworkSpec = {
  obsDim: 3,
  action: { kind: "box", dim: 1, low: new Float32Array([-2]), high: new Float32Array([2]) },
  hiddenSizes: [64, 64],
  activation: "tanh",
  useSde: true,
};

test("useSde is refused for discrete actions, with the field named", (t) => {
  const err = t.throws(() => resolveHyperparameters("CartPole-v1", "cleanrl", { useSde: true }), {
    instanceOf: HyperparameterError,
  });
  t.is(err.issues[0]!.field, "useSde");
  t.regex(err.message, /Box/);
  t.notThrows(() => resolveHyperparameters("Pendulum-v1", "cleanrl", { useSde: true }));
  // A code env's declared action kind decides it too.
  t.throws(() => resolveHyperparameters("custom:x", "cleanrl", { useSde: true }, "discrete"), {
    instanceOf: HyperparameterError,
  });
});

test("configs stored before gSDE validate to today's behaviour (no gSDE, orthogonal init, log-std 0)", (t) => {
  const stored = { ...resolveHyperparameters("Pendulum-v1", "cleanrl") } as Record<string, unknown>;
  for (const k of ["useSde", "sdeSampleFreq", "logStdInit", "orthoInit"]) delete stored[k];
  const config = validateHyperparameters(stored);
  t.is(config.useSde, false);
  t.is(config.sdeSampleFreq, -1);
  t.is(config.logStdInit, 0);
  t.is(config.orthoInit, true);
});

test("orthoInit false gives PyTorch's nn.Linear default init; logStdInit fills the log-std", (t) => {
  for (const useSde of [false, true]) {
    const spec = { ...specPendulum, useSde };
    const layout = parameterLayout(spec);
    const params = new Float32Array(layout.size);
    initParameters(layout, params, new Rng(4), { orthoInit: false, logStdInit: -3.29 });
    for (const net of [layout.actor, layout.critic]) {
      const base = net === layout.actor ? 0 : layout.criticOffset;
      for (const layer of net.layers) {
        const bound = 1 / Math.sqrt(layer.inDim);
        const w = params.subarray(base + layer.w, base + layer.w + layer.inDim * layer.outDim);
        const b = params.subarray(base + layer.b, base + layer.b + layer.outDim);
        for (const x of [...w, ...b]) t.true(Math.abs(x) <= bound);
        // U(−b, b) has variance b²/3.
        if (w.length >= 1000) {
          const variance = w.reduce((s, x) => s + x * x, 0) / w.length;
          t.true(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.1, `variance ${variance}`);
        }
        t.true(
          b.some((x) => x !== 0),
          "biases are drawn, not zero",
        );
      }
    }
    const logstd = params.subarray(layout.logstd, layout.policySize);
    t.is(logstd.length, useSde ? 64 : 1);
    t.true(logstd.every((x) => x === Math.fround(-3.29)));
  }
});

const pendulumSde = (overrides: Record<string, unknown> = {}) =>
  resolveHyperparameters("Pendulum-v1", "zoo", {
    useSde: true,
    sdeSampleFreq: 4,
    seed: 3,
    ...overrides,
  });

function deterministic(m: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

test("a gSDE run resumed from its checkpoint continues exactly as the uninterrupted run", async (t) => {
  const config = pendulumSde({ numSteps: 64, numMinibatches: 4, updateEpochs: 2, totalTimesteps: 256 * 4 });
  const full = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  const fullMetrics = [];
  for (let i = 0; i < 4; i++) fullMetrics.push(deterministic(await full.iterate()));
  const first = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  for (let i = 0; i < 2; i++) await first.iterate();
  const state = decodeCheckpoint(encodeCheckpoint(first.getState()));
  t.deepEqual(
    state.tensors.find((s) => s.name === "actor_logstd")?.shape,
    [64, 1],
    "the checkpoint names the log-std matrix with its shape",
  );
  const resumed = await PPOTrainer.fromState(state);
  const rest = [];
  for (let i = 0; i < 2; i++) rest.push(deterministic(await resumed.iterate()));
  t.deepEqual(rest, fullMetrics.slice(2));
  t.deepEqual(resumed.learner.params, full.learner.params);
});

test("PPO with gSDE learns Pendulum-v1 in 20k steps (zoo settings, sde_sample_freq 4)", async (t) => {
  const config = pendulumSde({ totalTimesteps: 20_480 });
  const trainer = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  const before = trainer.evaluate(10).mean;
  await trainer.train();
  const after = trainer.evaluate(10).mean;
  t.log(`deterministic return ${before.toFixed(1)} → ${after.toFixed(1)}`);
  // Measured over seeds 1–4: −1218…−1365 before, −234…−461 after (without gSDE: −1052…−1202).
  t.true(after > before + 500 && after > -700, `${before} → ${after}`);
});

test("gSDE runs the same split over 2 runners × 2 envs as in one process with 4 envs, bit for bit", async (t) => {
  const config = pendulumSde({
    numEnvs: 4,
    numSteps: 32,
    numMinibatches: 2,
    updateEpochs: 2,
    hiddenSizes: [16, 16],
    totalTimesteps: 4 * 32 * 3,
  });
  const single = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  const learner = await PPOLearner.create({
    envId: "Pendulum-v1",
    config,
    spaces: builtinSpaces("Pendulum-v1"),
  });
  // The runners get the run's whole configuration, as the TrainingRun sends it.
  const runners = await Promise.all(
    [0, 1].map((index) => createRunnerCollector({ envId: "Pendulum-v1", config, numEnvs: 2, index })),
  );
  for (let it = 0; it < 3; it++) {
    const expected = copyRollout(single.collect());
    const policy = learner.policy.slice();
    const merged = mergeRollouts(
      runners.map((r) => {
        r.setPolicy(policy, learner.weightsVersion);
        return copyRollout(r.collect());
      }),
    );
    t.deepEqual(Array.from(merged.actions), Array.from(expected.actions), `iteration ${it + 1}: actions`);
    t.deepEqual(Array.from(merged.logprobs), Array.from(expected.logprobs), `iteration ${it + 1}: log-probs`);
    t.deepEqual(deterministic(learner.learn(merged)), deterministic(single.learn(expected)));
  }
  t.deepEqual(learner.params, single.learner.params);
});

test("a checkpoint written before gSDE (no useSde, sdeSampleFreq, logStdInit, orthoInit in its config) loads and evaluates as before", async (t) => {
  const config = resolveHyperparameters("Pendulum-v1", "cleanrl", {
    numSteps: 64,
    numMinibatches: 2,
    updateEpochs: 1,
    totalTimesteps: 64 * 3,
  });
  const trainer = await PPOTrainer.create({ envId: "Pendulum-v1", config });
  await trainer.iterate();
  const state = trainer.getState();
  const old = { ...state.config } as Record<string, unknown>;
  for (const k of ["useSde", "sdeSampleFreq", "logStdInit", "orthoInit"]) delete old[k];
  const loaded = decodeCheckpoint(encodeCheckpoint({ ...state, config: old as typeof state.config }));
  t.deepEqual(loaded.tensors.find((s) => s.name === "actor_logstd")?.shape, [1]);
  const resumed = await PPOTrainer.fromState(loaded);
  t.is(resumed.learner.layout.sde, false);
  t.deepEqual(resumed.evaluate(3), trainer.evaluate(3));
  t.deepEqual(deterministic(await resumed.iterate()), deterministic(await trainer.iterate()));
});

test("the tfjs engine trains a gSDE policy without leaking tensors", async (t) => {
  const config = pendulumSde({ numSteps: 32, numMinibatches: 2, updateEpochs: 2, totalTimesteps: 128 * 5 });
  const trainer = await PPOTrainer.create({ envId: "Pendulum-v1", config, backend: "wasm", engine: "tfjs" });
  t.is(trainer.learner.engine.name, "tfjs");
  await trainer.iterate();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const m = await trainer.iterate();
    t.true(Number.isFinite(m["losses/policy_loss"]) && Number.isFinite(m["losses/entropy"]));
  }
  t.is(tf.memory().numTensors, before);
  trainer.dispose();
});
