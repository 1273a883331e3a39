/**
 * `npx tsx bench/learning-variants.ts --env HalfCheetah-v5 --preset cleanrl --seed 1 [--set key=value …]`
 *
 * One training run in this process with a preset and overrides, then the deterministic evaluation
 * `bench:mujoco` reports (10 episodes seeded seed + 1,000,000 + i): for comparing variants of a
 * preset seed by seed (returns are deterministic given the seed). Prints the training's episodic
 * return every 50 iterations and one JSON line at the end.
 */
import { parseArgs } from "node:util";
import type { PresetName } from "../rl/ppo/hyperparameters.ts";
import { resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";

const { values } = parseArgs({
  options: {
    env: { type: "string", default: "HalfCheetah-v5" },
    preset: { type: "string", default: "cleanrl" },
    seed: { type: "string", default: "1" },
    set: { type: "string", multiple: true, default: [] },
  },
});

const overrides: Record<string, unknown> = { seed: Number(values.seed) };
for (const kv of values.set) {
  const at = kv.indexOf("=");
  if (at < 1) throw new Error(`--set ${kv}: expected key=value`);
  const raw = kv.slice(at + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  overrides[kv.slice(0, at)] = value;
}

const config = resolveHyperparameters(values.env, values.preset as PresetName, overrides);
const trainer = await PPOTrainer.create({ envId: values.env, config });
const started = performance.now();
await trainer.train((m) => {
  if (trainer.learner.iteration % 50 === 0 || trainer.done)
    console.error(
      `iter ${trainer.learner.iteration} step ${trainer.learner.globalStep} return ${m["charts/episodic_return"]?.toFixed(1)} ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
});
const wallSeconds = (performance.now() - started) / 1000;
const evaluation = trainer.evaluate(10, Number(values.seed) + 1_000_000);
console.log(
  JSON.stringify({
    env: values.env,
    preset: values.preset,
    overrides,
    steps: trainer.learner.globalStep,
    wallSeconds: Math.round(wallSeconds),
    evalMean: evaluation.mean,
    evalStd: evaluation.std,
  }),
);
