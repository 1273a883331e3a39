import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../rl/ppo/checkpoint.ts";
import { resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { type IterationMetrics, WALL_TIME_KEYS } from "../../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

const config = resolveHyperparameters("CartPole-v1", "zoo", { totalTimesteps: 256 * 12, seed: 5 });

function deterministic(m: IterationMetrics): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

async function run(
  iterations: number,
  trainer?: PPOTrainer,
): Promise<{ trainer: PPOTrainer; metrics: Record<string, unknown>[] }> {
  const t = trainer ?? (await PPOTrainer.create({ envId: "CartPole-v1", config }));
  const metrics: Record<string, unknown>[] = [];
  for (let i = 0; i < iterations; i++) metrics.push(deterministic(await t.iterate()));
  return { trainer: t, metrics };
}

test("the same config and seed give identical metrics run after run", async (t) => {
  const a = await run(6);
  const b = await run(6);
  t.deepEqual(a.metrics, b.metrics);
  t.deepEqual(a.trainer.learner.params, b.trainer.learner.params);
  const other = await PPOTrainer.create({ envId: "CartPole-v1", config: { ...config, seed: 6 } });
  t.notDeepEqual(deterministic(await other.iterate()), a.metrics[0]);
});

test("resuming from a checkpoint directory continues exactly as the uninterrupted run", async (t) => {
  const full = await run(10);
  const first = await run(5);
  const dir = await mkdtemp(join(tmpdir(), "proxima-ckpt-"));
  try {
    await saveCheckpoint(dir, first.trainer.getState());
    const resumed = await PPOTrainer.fromState(await loadCheckpoint(dir));
    t.is(resumed.learner.iteration, 5);
    const rest = await run(5, resumed);
    t.deepEqual(rest.metrics, full.metrics.slice(5));
    t.deepEqual(resumed.learner.params, full.trainer.learner.params);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the single-blob encoding round-trips the whole trainer state", async (t) => {
  const { trainer } = await run(3);
  const state = trainer.getState();
  const decoded = decodeCheckpoint(encodeCheckpoint(state));
  t.deepEqual(decoded.params, state.params);
  t.deepEqual(decoded.adam, state.adam);
  t.deepEqual(decoded.rng, state.rng);
  t.deepEqual(decoded.counters, state.counters);
  t.deepEqual(decoded.config, state.config);
  t.deepEqual(decoded.tensors, state.tensors);
  const a = await PPOTrainer.fromState(decoded);
  t.deepEqual(deterministic(await a.iterate()), deterministic(await trainer.iterate()));
});

test("unreadable or foreign checkpoints fail with a CheckpointError that says why", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "proxima-ckpt-"));
  try {
    await t.throwsAsync(loadCheckpoint(dir), {
      instanceOf: CheckpointError,
      message: /cannot read checkpoint/,
    });
    await writeFile(join(dir, "manifest.json"), "{ not json");
    await writeFile(join(dir, "weights.bin"), new Uint8Array(12));
    await t.throwsAsync(loadCheckpoint(dir), { instanceOf: CheckpointError, message: /not valid JSON/ });
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ format: "other" }));
    await t.throwsAsync(loadCheckpoint(dir), { instanceOf: CheckpointError, message: /not a proxima/ });
    t.throws(() => decodeCheckpoint(new Uint8Array(20)), { instanceOf: CheckpointError, message: /magic/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("policy weights export as named tfjs-layout tensors and load into another trainer", async (t) => {
  const { trainer } = await run(2);
  const w = trainer.learner.getPolicyWeights();
  t.deepEqual(
    w.tensors.map((x) => [x.name, x.shape]),
    [
      ["actor.0.kernel", [4, 64]],
      ["actor.0.bias", [64]],
      ["actor.1.kernel", [64, 64]],
      ["actor.1.bias", [64]],
      ["actor.2.kernel", [64, 2]],
      ["actor.2.bias", [2]],
    ],
  );
  const other = await PPOTrainer.create({ envId: "CartPole-v1", config: { ...config, seed: 9 } });
  other.learner.setPolicyWeights(w);
  t.deepEqual(other.learner.getPolicyWeights(), w);
});
