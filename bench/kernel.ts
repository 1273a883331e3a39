/**
 * `npm run bench:kernel [-- --reps 7] [-- --readme]`: the PPO update's hot path for the networks the
 * presets build, with the matrix products in three GEMMs side by side.
 *
 * - minibatch: one minibatch's forward, PPO loss and backward of both networks in the fused kernel
 *   (`FusedActorCritic.lossAndGrad`, 64 rows as the MuJoCo presets' minibatches), µs;
 * - iteration: one whole PPO iteration of the preset in one process (`PPOTrainer`: the rollout, then
 *   the update's epochs × minibatches with Adam), ms.
 *
 * The GEMMs: `wasm` (the WebAssembly SIMD GEMM, rl/nn/gemm-wasm.ts), `wasm, ReLU in JS` (the same with
 * every ReLU layer and ReLU derivative routed to the JavaScript GEMM, as the kernel ran before it
 * computed ReLU itself), and `js` (rl/nn/gemm.ts alone). They run in alternation within each of
 * `--reps` rounds, so that a busy machine slows them alike; medians are reported.
 */
import { parseArgs } from "node:util";
import { Rng } from "../rl/core/rng.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import { buildFusedEngine, initParameters, type Minibatch } from "../rl/nn/actor-critic.ts";
import { type Gemm, jsGemm } from "../rl/nn/gemm.ts";
import { wasmGemm } from "../rl/nn/gemm-wasm.ts";
import { type PresetName, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { networkSpecOf } from "../rl/ppo/network.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";
import { writeReadmeSection } from "./common.ts";

const { values } = parseArgs({
  options: { reps: { type: "string", default: "7" }, readme: { type: "boolean", default: false } },
});
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps must be a positive integer (got ${values.reps})`);

const wasm = wasmGemm();
if (!wasm) throw new Error("WebAssembly SIMD is not available in this runtime");
/** The WebAssembly GEMM with ReLU layers in JavaScript: the kernel as it was before it covered ReLU. */
const reluInJs: Gemm = {
  name: "wasm, ReLU in JS",
  dense: (a, b, bias, c, M, K, N, act) => (act === "relu" ? jsGemm : wasm).dense(a, b, bias, c, M, K, N, act),
  nnGrad: (a, b, h, c, M, K, N, act) => (act === "relu" ? jsGemm : wasm).nnGrad(a, b, h, c, M, K, N, act),
  tn: (a, b, c, M, K, N) => wasm.tn(a, b, c, M, K, N),
};
const gemms: [string, Gemm][] = [
  ["wasm", wasm],
  ["wasm, ReLU in JS", reluInJs],
  ["js", jsGemm],
];

const cases: { env: string; preset: PresetName }[] = [
  { env: "HalfCheetah-v5", preset: "cleanrl" },
  { env: "HalfCheetah-v5", preset: "zoo" },
  { env: "Hopper-v5", preset: "zoo" },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A fused kernel for the case's network on `gemm`, with a 64-row minibatch of plausible values. */
function kernel(env: string, preset: PresetName, gemm: Gemm) {
  const config = resolveHyperparameters(env, preset, { seed: 1 });
  const spec = networkSpecOf(builtinSpaces(env), config);
  const M = 64;
  const { layout, ...value } = buildFusedEngine(spec, M, gemm);
  initParameters(layout, value.params, new Rng(1), {
    orthoInit: config.orthoInit ?? true,
    logStdInit: config.logStdInit ?? 0,
  });
  const rng = new Rng(2);
  const actDim = spec.action.kind === "box" ? spec.action.dim : 1;
  const f = (n: number, g: () => number) => Float32Array.from({ length: n }, g);
  const mb: Minibatch = {
    M,
    obs: f(M * spec.obsDim, () => rng.normal()),
    actions: f(M * actDim, () => rng.normal()),
    logprobs: f(M, () => -actDim + 0.3 * rng.normal()),
    advantages: f(M, () => rng.normal()),
    returns: f(M, () => rng.normal()),
    values: f(M, () => rng.normal()),
  };
  return { ...value, mb, config };
}

const coefs = { clipCoef: 0.2, clipVloss: false, entCoef: 0, vfCoef: 0.5 };
const rows: string[] = [];
for (const { env, preset } of cases) {
  const kernels = gemms.map(([, g]) => kernel(env, preset, g));
  const trainers = await Promise.all(
    gemms.map(([, g]) =>
      PPOTrainer.create({ envId: env, config: resolveHyperparameters(env, preset, { seed: 1 }), gemm: g }),
    ),
  );
  const minibatch = gemms.map(() => [] as number[]);
  const iteration = gemms.map(() => [] as number[]);
  for (let r = 0; r < reps + 1; r++) {
    for (const [i] of gemms.entries()) {
      const k = kernels[i]!;
      const n = 200;
      const t0 = performance.now();
      for (let j = 0; j < n; j++) k.engine.lossAndGrad(k.params, k.grads, k.mb, coefs);
      const t1 = performance.now();
      const trainer = trainers[i]!;
      trainer.learn(trainer.collect());
      const t2 = performance.now();
      // Round 0 warms the JIT and the caches.
      if (r === 0) continue;
      minibatch[i]!.push(((t1 - t0) / n) * 1000);
      iteration[i]!.push(t2 - t1);
    }
  }
  const c = kernels[0]!.config;
  const shape = `${c.hiddenSizes.join("-")} ${c.activation}, ${c.numEnvs}×${c.numSteps} steps, ${c.updateEpochs}×${c.numMinibatches} minibatches`;
  const base = median(minibatch[0]!);
  const baseIt = median(iteration[0]!);
  for (const [i, [name]] of gemms.entries()) {
    const mb = median(minibatch[i]!);
    const it = median(iteration[i]!);
    rows.push(
      `| ${env} | ${preset} (${shape}) | ${name} | ${mb.toFixed(0)} | ${(mb / base).toFixed(2)}× | ${it.toFixed(0)} | ${(it / baseIt).toFixed(2)}× |`,
    );
  }
  for (const t of trainers) t.dispose();
}

const table = [
  `Measured ${new Date().toISOString()} with \`npm run bench:kernel -- --reps ${reps}\` (medians of ${reps} rounds after one warm-up; the GEMMs alternate within each round).`,
  "",
  "| env | preset (network, iteration) | GEMM | minibatch µs | vs wasm | iteration ms | vs wasm |",
  "|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");
console.log(table);
if (values.readme) await writeReadmeSection("kernel-results", "Kernel (bench:kernel)", table);
