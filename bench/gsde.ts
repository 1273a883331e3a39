/**
 * The cost of gSDE (useSde) per PPO iteration: rl-zoo's Pendulum-v1 settings (4 envs × 1024 steps,
 * minibatches of 64, 10 epochs, [64, 64] tanh) with and without gSDE (sde_sample_freq 4), timed
 * side by side in alternation so that a busy machine slows both alike. Reports the median of each
 * part over `--reps` iterations: the rollout (acting and env steps), the update, and one minibatch's
 * loss and gradient in the fused kernel.
 *
 *   npx tsx bench/gsde.ts [--reps 8]
 */
import { parseArgs } from "node:util";
import { Rng } from "../rl/core/rng.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import { buildFusedEngine, initParameters, type Minibatch } from "../rl/nn/actor-critic.ts";
import { wasmGemm } from "../rl/nn/gemm-wasm.ts";
import { resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { networkSpecOf } from "../rl/ppo/network.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";

const { values } = parseArgs({ options: { reps: { type: "string", default: "8" } } });
const reps = Number(values.reps);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const variants = [
  { name: "gaussian", overrides: { useSde: false } },
  { name: "gsde", overrides: { useSde: true, sdeSampleFreq: 4 } },
];

const trainers = await Promise.all(
  variants.map((v) =>
    PPOTrainer.create({
      envId: "Pendulum-v1",
      config: resolveHyperparameters("Pendulum-v1", "zoo", { seed: 1, ...v.overrides }),
    }),
  ),
);
const times = variants.map(() => ({
  collect: [] as number[],
  update: [] as number[],
  minibatch: [] as number[],
}));

// Minibatch kernels: one forward + loss + backward of 64 rows.
const gemm = wasmGemm();
if (!gemm) throw new Error("WebAssembly SIMD is not available");
const kernels = variants.map((v) => {
  const config = resolveHyperparameters("Pendulum-v1", "zoo", { seed: 1, ...v.overrides });
  const spec = networkSpecOf(builtinSpaces("Pendulum-v1"), config);
  const { layout, ...value } = buildFusedEngine(spec, 64, gemm);
  initParameters(layout, value.params, new Rng(1));
  const rng = new Rng(2);
  const f = (n: number, g: () => number) => Float32Array.from({ length: n }, g);
  const mb: Minibatch = {
    M: 64,
    obs: f(64 * 3, () => rng.normal()),
    actions: f(64, () => rng.normal()),
    logprobs: f(64, () => -1 + 0.3 * rng.normal()),
    advantages: f(64, () => rng.normal()),
    returns: f(64, () => rng.normal()),
    values: f(64, () => rng.normal()),
  };
  return { ...value, mb };
});
const coefs = { clipCoef: 0.2, clipVloss: false, entCoef: 0, vfCoef: 0.5 };

for (let r = 0; r < reps; r++) {
  for (const [i, trainer] of trainers.entries()) {
    const t0 = performance.now();
    const rollout = trainer.collect();
    const t1 = performance.now();
    trainer.learn(rollout);
    const t2 = performance.now();
    times[i]!.collect.push(t1 - t0);
    times[i]!.update.push(t2 - t1);
    const k = kernels[i]!;
    const t3 = performance.now();
    for (let n = 0; n < 640; n++) k.engine.lossAndGrad(k.params, k.grads, k.mb, coefs);
    times[i]!.minibatch.push(((performance.now() - t3) / 640) * 1000);
  }
}

const rows = variants.map((v, i) => ({
  variant: v.name,
  "rollout ms": median(times[i]!.collect).toFixed(1),
  "update ms": median(times[i]!.update).toFixed(1),
  "iteration ms": (median(times[i]!.collect) + median(times[i]!.update)).toFixed(1),
  "minibatch µs": median(times[i]!.minibatch).toFixed(1),
}));
console.table(rows);
