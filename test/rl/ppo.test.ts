import test from "ava";
import { computeGae } from "../../rl/ppo/gae.ts";
import {
  HyperparameterError,
  hyperparametersJsonSchema,
  resolveHyperparameters,
} from "../../rl/ppo/hyperparameters.ts";
import { ppoLoss } from "../../rl/ppo/loss.ts";
import { Adam, clipGradNorm } from "../../rl/ppo/optim.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol * (1 + Math.abs(b));

test("GAE stops at termination and bootstraps truncation from the final observation's value", (t) => {
  // One env, 4 steps; step 1 terminates, step 2 is truncated (V(final) = 10), then one more step.
  const gamma = 0.9;
  const lambda = 0.5;
  const values = new Float32Array([1, 2, 3, 4]);
  const rewards = new Float32Array([1, 1, 1, 1]);
  const adv = new Float32Array(4);
  const ret = new Float32Array(4);
  computeGae(
    {
      numSteps: 4,
      numEnvs: 1,
      gamma,
      gaeLambda: lambda,
      rewards,
      values,
      terminated: new Uint8Array([0, 1, 0, 0]),
      truncated: new Uint8Array([0, 0, 1, 0]),
      nextValues: new Float32Array([5]),
      truncatedIndex: new Int32Array([2]),
      truncatedValues: new Float32Array([10]),
    },
    adv,
    ret,
  );
  // By hand: δ3 = 1 + 0.9·5 − 4 = 1.5, A3 = 1.5
  //          δ2 = (1 + 0.9·10) + 0 − 3 = 7, A2 = 7 (episode boundary: no A3 term)
  //          δ1 = 1 − 2 = −1, A1 = −1 (terminal: no bootstrap, no A2 term)
  //          δ0 = 1 + 0.9·2 − 1 = 1.8, A0 = 1.8 + 0.45·(−1) = 1.35
  const expected = [1.35, -1, 7, 1.5];
  for (const [i, e] of expected.entries()) {
    t.true(close(adv[i], e), `A${i} = ${adv[i]}, expected ${e}`);
    t.true(close(ret[i], e + values[i]), `returns${i}`);
  }
});

test("GAE runs each env of a time-major rollout independently", (t) => {
  const adv = new Float32Array(4);
  const ret = new Float32Array(4);
  computeGae(
    {
      numSteps: 2,
      numEnvs: 2,
      gamma: 1,
      gaeLambda: 1,
      rewards: new Float32Array([1, 10, 1, 10]),
      values: new Float32Array([0, 0, 0, 0]),
      terminated: new Uint8Array(4),
      truncated: new Uint8Array(4),
      nextValues: new Float32Array([0, 100]),
      truncatedIndex: new Int32Array(0),
      truncatedValues: new Float32Array(0),
    },
    adv,
    ret,
  );
  t.deepEqual(Array.from(adv), [2, 120, 1, 110]);
});

const coefs = { clipCoef: 0.2, clipVloss: true, entCoef: 0.01, vfCoef: 0.5 };

test("clipped surrogate takes the pessimistic branch and passes no gradient when clipped", (t) => {
  // Logits [0, 0]: π(a) = 0.5. Old log-prob log(0.5/1.5) makes ratio = 1.5 for both samples.
  const oldLogprob = Math.log(0.5 / 1.5);
  const dOut = new Float32Array(4);
  const stats = ppoLoss(
    {
      M: 2,
      kind: "discrete",
      outDim: 2,
      out: new Float32Array([0, 0, 0, 0]),
      logstd: null,
      newvalue: new Float32Array([0, 0]),
    },
    {
      actions: new Float32Array([0, 1]),
      logprobs: new Float32Array([oldLogprob, oldLogprob]),
      advantages: new Float32Array([1, -1]),
      returns: new Float32Array([0, 0]),
      values: new Float32Array([0, 0]),
    },
    { ...coefs, entCoef: 0 },
    { dOut, dLogstd: null, dValue: new Float32Array(2) },
  );
  // Sample 0 (A = +1): max(−1.5, −1.2) = −1.2, clipped → zero gradient.
  // Sample 1 (A = −1): max(1.5, 1.2) = 1.5, unclipped → dL/dlogπ = −A·ratio/M = 0.75.
  t.true(close(stats.pg_loss, (-1.2 + 1.5) / 2));
  t.is(stats.clipfrac, 1);
  t.true(close(stats.approx_kl, 0.5 - Math.log(1.5)));
  t.true(close(stats.old_approx_kl, -Math.log(1.5)));
  t.deepEqual(Array.from(dOut.subarray(0, 2)), [0, 0]);
  // ∂logπ(1)/∂z = onehot(1) − p = [−0.5, 0.5].
  t.true(close(dOut[2], 0.75 * -0.5) && close(dOut[3], 0.75 * 0.5));
});

test("clipped value loss takes the larger error and zeroes the gradient outside the clip range", (t) => {
  const dValue = new Float32Array(1);
  const stats = ppoLoss(
    {
      M: 1,
      kind: "discrete",
      outDim: 2,
      out: new Float32Array([0, 0]),
      logstd: null,
      newvalue: new Float32Array([1]),
    },
    {
      actions: new Float32Array([0]),
      logprobs: new Float32Array([Math.log(0.5)]),
      advantages: new Float32Array([0]),
      returns: new Float32Array([2]),
      values: new Float32Array([0]),
    },
    coefs,
    { dOut: new Float32Array(2), dLogstd: null, dValue },
  );
  // Unclipped (1 − 2)² = 1; clipped (0 + 0.2 − 2)² = 3.24; v_loss = ½·3.24.
  t.true(close(stats.v_loss, 1.62));
  t.is(dValue[0], 0);
  const unclipped = ppoLoss(
    {
      M: 1,
      kind: "discrete",
      outDim: 2,
      out: new Float32Array([0, 0]),
      logstd: null,
      newvalue: new Float32Array([1]),
    },
    {
      actions: new Float32Array([0]),
      logprobs: new Float32Array([Math.log(0.5)]),
      advantages: new Float32Array([0]),
      returns: new Float32Array([2]),
      values: new Float32Array([0]),
    },
    { ...coefs, clipVloss: false },
    { dOut: new Float32Array(2), dLogstd: null, dValue },
  );
  t.true(close(unclipped.v_loss, 0.5));
  t.true(close(dValue[0], 0.5 * (1 - 2)));
});

test("entropy of a uniform categorical is log n and of a Gaussian is Σ(½ + ½log2π + logσ)", (t) => {
  const cat = ppoLoss(
    {
      M: 1,
      kind: "discrete",
      outDim: 3,
      out: new Float32Array([2, 2, 2]),
      logstd: null,
      newvalue: new Float32Array([0]),
    },
    {
      actions: new Float32Array([1]),
      logprobs: new Float32Array([Math.log(1 / 3)]),
      advantages: new Float32Array([0]),
      returns: new Float32Array([0]),
      values: new Float32Array([0]),
    },
    coefs,
    { dOut: new Float32Array(3), dLogstd: null, dValue: new Float32Array(1) },
  );
  t.true(close(cat.entropy, Math.log(3)));
  t.true(close(cat.approx_kl, 0));
  const logstd = new Float32Array([0.5, -1]);
  const dLogstd = new Float32Array(2);
  const gauss = ppoLoss(
    { M: 1, kind: "box", outDim: 2, out: new Float32Array([0, 0]), logstd, newvalue: new Float32Array([0]) },
    {
      actions: new Float32Array([0, 0]),
      logprobs: new Float32Array([0]),
      advantages: new Float32Array([0]),
      returns: new Float32Array([0]),
      values: new Float32Array([0]),
    },
    coefs,
    { dOut: new Float32Array(2), dLogstd, dValue: new Float32Array(1) },
  );
  t.true(close(gauss.entropy, 2 * (0.5 + 0.5 * Math.log(2 * Math.PI)) - 0.5));
  // Advantage 0: only the entropy bonus moves log σ, by −ent_coef.
  t.true(close(dLogstd[0], -0.01) && close(dLogstd[1], -0.01));
});

test("global gradient-norm clipping rescales to max_grad_norm and leaves small gradients alone", (t) => {
  const g = new Float32Array([3, 4]);
  t.is(clipGradNorm(g, 1), 5);
  t.true(close(g[0], 0.6, 1e-5) && close(g[1], 0.8, 1e-5));
  const small = new Float32Array([0.3, 0.4]);
  clipGradNorm(small, 1);
  t.deepEqual(Array.from(small), [Math.fround(0.3), Math.fround(0.4)]);
});

test("Adam's first step moves each parameter by lr·g/(|g| + eps)", (t) => {
  const adam = new Adam(new Float32Array(2), new Float32Array(2), 1e-5);
  const p = new Float32Array([1, 1]);
  adam.update(p, new Float32Array([2, -0.5]), 0.1);
  t.true(close(p[0], 1 - (0.1 * 2) / (2 + 1e-5)));
  t.true(close(p[1], 1 + (0.1 * 0.5) / (0.5 + 1e-5)));
  t.is(adam.step, 1);
});

test("learning rate and clip coefficient anneal linearly from the start value", async (t) => {
  const config = resolveHyperparameters("CartPole-v1", "zoo", { totalTimesteps: 2560 });
  const trainer = await PPOTrainer.create({ envId: "CartPole-v1", config });
  t.is(trainer.learner.numIterations, 10);
  t.deepEqual(trainer.learner.schedule(1), { learningRate: 1e-3, clipCoef: 0.2 });
  const last = trainer.learner.schedule(10);
  t.true(close(last.learningRate, 1e-4) && close(last.clipCoef, 0.02));
  const m = await trainer.iterate();
  t.is(m["charts/learning_rate"], 1e-3);
});

test("hyperparameter errors name every bad and unknown field", (t) => {
  const err = t.throws(
    () => resolveHyperparameters("CartPole-v1", "cleanrl", { gamma: 1.5, numMinibatches: 3, lr: 0.1 }),
    { instanceOf: HyperparameterError },
  );
  const fields = err.issues.map((i) => i.field).sort();
  t.deepEqual(fields, ["gamma", "lr", "numMinibatches"]);
  t.regex(err.issues.find((i) => i.field === "lr")!.message, /unknown/);
  t.regex(err.issues.find((i) => i.field === "numMinibatches")!.message, /divide/);
});

test("presets resolve to CleanRL's and rl-zoo's CartPole settings; the JSON Schema describes every field", (t) => {
  const cleanrl = resolveHyperparameters("CartPole-v1", "cleanrl");
  t.like(cleanrl, {
    numEnvs: 4,
    numSteps: 128,
    learningRate: 2.5e-4,
    numMinibatches: 4,
    updateEpochs: 4,
    clipVloss: true,
  });
  const zoo = resolveHyperparameters("CartPole-v1", "zoo");
  t.like(zoo, {
    numEnvs: 8,
    numSteps: 32,
    numMinibatches: 1,
    updateEpochs: 20,
    gamma: 0.98,
    gaeLambda: 0.8,
    annealClip: true,
  });
  const schema = hyperparametersJsonSchema() as { properties: Record<string, { description?: string }> };
  for (const [key, prop] of Object.entries(schema.properties)) t.truthy(prop.description, key);
  t.throws(() => resolveHyperparameters("CartPole-v0", "zoo"), { instanceOf: HyperparameterError });
});

test("zoo presets are rl-zoo's ppo.yml entries: VecNormalize, gSDE and policy_kwargs included, SB3's value loss and rollout count", (t) => {
  // ppo.yml: Acrobot-v1 and MountainCar-v0 `normalize: true`; SB3 vf_coef 0.5 on mse = our 1.0 on ½·mse.
  for (const env of ["Acrobot-v1", "MountainCar-v0"]) {
    t.like(resolveHyperparameters(env, "zoo"), {
      normalizeObs: true,
      normalizeReward: true,
      normalizeStyle: "sb3",
      clipObs: 10,
      clipReward: 10,
      useSde: false,
      vfCoef: 1,
    });
  }
  // MountainCarContinuous-v0: normalize, use_sde, policy_kwargs dict(log_std_init=-3.29, ortho_init=False), vf_coef 0.19.
  const mcc = resolveHyperparameters("MountainCarContinuous-v0", "zoo");
  t.like(mcc, { normalizeObs: true, useSde: true, sdeSampleFreq: -1, logStdInit: -3.29, orthoInit: false });
  t.is(mcc.vfCoef, 0.38);
  // Pendulum-v1: use_sde, sde_sample_freq 4, no normalize; 1e5 steps = 25 rollouts of 4 × 1024 in SB3.
  const pendulum = resolveHyperparameters("Pendulum-v1", "zoo");
  t.like(pendulum, {
    useSde: true,
    sdeSampleFreq: 4,
    normalizeObs: false,
    normalizeReward: false,
    orthoInit: true,
  });
  t.is(pendulum.totalTimesteps, 25 * 4096);
  t.is(resolveHyperparameters("CartPole-v1", "zoo").normalizeObs, false);
  // CleanRL's continuous script normalises through Gymnasium's wrappers (on each env, after every
  // step); ppo.py does not. SB3's VecNormalize under zoo keeps the per-iteration default.
  t.like(resolveHyperparameters("Pendulum-v1", "cleanrl"), {
    normalizeObs: true,
    normalizeReward: true,
    normalizeStyle: "gymnasium",
    normalizeUpdate: "step",
  });
  t.is(resolveHyperparameters("Acrobot-v1", "zoo").normalizeUpdate, "iteration");
  t.like(resolveHyperparameters("CartPole-v1", "cleanrl"), { normalizeObs: false, normalizeReward: false });
});
