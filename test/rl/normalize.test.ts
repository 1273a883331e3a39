import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import test from "ava";
import { EnvRunner } from "../../actors/env-runner.ts";
import { RunLearner } from "../../actors/learner.ts";
import { builtinSpaces } from "../../rl/envs/registry.ts";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../rl/ppo/checkpoint.ts";
import {
  copyRollout,
  createRunnerCollector,
  mergeCollectorStates,
  mergeRollouts,
  runnerCollectorState,
} from "../../rl/ppo/distributed.ts";
import { type Hyperparameters, resolveHyperparameters } from "../../rl/ppo/hyperparameters.ts";
import {
  NORMALIZE_UPDATES,
  type NormalizationSettings,
  type NormalizeStyle,
  RolloutNormalizer,
  RunningMeanStd,
  type RunningMomentsState,
  RunningNormalization,
  VecNormalize,
} from "../../rl/ppo/normalize.ts";
import {
  type IterationMetrics,
  PPOLearner,
  type TrainerState,
  WALL_TIME_KEYS,
} from "../../rl/ppo/ppo-learner.ts";
import type { Rollout, RolloutCollector, RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import { PPOTrainer } from "../../rl/ppo/trainer.ts";

/**
 * Issue 14, item 4: observation and reward normalisation equal to SB3's VecNormalize, checked
 * against data recorded from SB3 2.x and Gymnasium 1.3 themselves (scripts/reference/record_normalize.py).
 */

interface Moments {
  mean: number[];
  var: number[];
  count: number;
}
interface SbStep {
  training: boolean;
  obs: number[];
  rewards: number[];
  dones: number[];
  truncated: number[];
  terminal: number[];
  normObs: number[];
  normRewards: number[];
  normTerminal: number[];
  obsRms: Moments;
  retRms: Moments;
  returns: number[];
}
interface SbCase {
  envId: string;
  numEnvs: number;
  obsDim: number;
  gamma: number;
  clipObs: number;
  clipReward: number;
  epsilon: number;
  reset: { raw: number[]; norm: number[]; obsRms: Moments };
  steps: SbStep[];
}
interface GymStep {
  obs: number[];
  reward: number;
  terminated: number;
  truncated: number;
  normObs: number[];
  normReward: number;
  obsRms: Moments;
  retRms: Moments;
  resetRaw?: number[];
  resetNorm?: number[];
  obsRmsAfterReset?: Moments;
}
interface Fixture {
  runningMeanStd: {
    dim: number;
    updates: { batch: number[]; rows: number; after: Moments }[];
    combine: { a: Moments; b: Moments; after: Moments };
  };
  vecNormalize: SbCase[];
  gymnasiumWrappers: {
    gamma: number;
    obsDim: number;
    reset: { raw: number[]; norm: number[] };
    steps: GymStep[];
  };
}

const fixture = JSON.parse(
  gunzipSync(readFileSync(new URL("./fixtures/reference/normalize.json.gz", import.meta.url))).toString(),
) as Fixture;

/** |a − b| ≤ tol·max(1, |b|) elementwise; answers the largest relative error. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Number(expected[i]);
    const err = Math.abs(Number(actual[i]) - e) / Math.max(1, Math.abs(e));
    if (!(err <= worst)) worst = err;
  }
  return worst <= tol ? worst : Number.POSITIVE_INFINITY;
}

function momentsClose(rms: RunningMeanStd | RunningMomentsState, expected: Moments, tol: number): boolean {
  return (
    close(rms.mean, expected.mean, tol) <= tol &&
    close(rms.var, expected.var, tol) <= tol &&
    Math.abs(rms.count - expected.count) <= tol * expected.count
  );
}

function settings(style: NormalizeStyle, gamma: number, c?: SbCase): NormalizationSettings {
  return {
    normalizeObs: true,
    normalizeReward: true,
    clipObs: c?.clipObs ?? 10,
    clipReward: c?.clipReward ?? 10,
    gamma,
    style,
    update: "iteration",
  };
}

test("RunningMeanStd matches SB3's update and combine (parallel-variance merge) on the recorded batches", (t) => {
  const f = fixture.runningMeanStd;
  const rms = new RunningMeanStd(f.dim);
  t.deepEqual([Array.from(rms.mean), Array.from(rms.var), rms.count], [[0, 0, 0], [1, 1, 1], 1e-4]);
  for (const [i, u] of f.updates.entries()) {
    rms.update(u.batch, u.rows);
    t.true(momentsClose(rms, u.after, 1e-12), `update ${i}`);
  }
  const a = RunningMeanStd.fromState(f.combine.a);
  const b = RunningMeanStd.fromState(f.combine.b);
  a.updateFromMoments(b.mean, b.var, b.count);
  // update_from_moments on the same float64 inputs: the same operations in the same order.
  t.deepEqual(a.getState(), f.combine.after);
});

for (const c of fixture.vecNormalize) {
  test(`VecNormalize (style sb3) reproduces SB3's VecNormalize step for step on ${c.envId} × ${c.numEnvs}`, (t) => {
    const vn = new VecNormalize(c.numEnvs, c.obsDim, settings("sb3", c.gamma, c), c.epsilon);
    const N = c.numEnvs;
    const d = c.obsDim;
    t.true(close(vn.reset(c.reset.raw), c.reset.norm, 1e-5) <= 1e-5, "reset observations");
    t.true(momentsClose(vn.obsRms!, c.reset.obsRms, 1e-6));
    let worstObs = 0;
    let ends = 0;
    let frozen = 0;
    for (const [k, s] of c.steps.entries()) {
      vn.training = s.training;
      const terminated = s.dones.map((done, i) => (done && !s.truncated[i] ? 1 : 0));
      const out = vn.step(s.obs, s.rewards, terminated, s.truncated, s.terminal);
      worstObs = Math.max(worstObs, close(out.obs, s.normObs, 1e-4));
      t.true(close(out.rewards, s.normRewards, 1e-5) <= 1e-5, `step ${k}: rewards`);
      for (let i = 0; i < N; i++) {
        if (!s.dones[i]) continue;
        ends++;
        const row = (a: ArrayLike<number>) => Array.from(a).slice(i * d, (i + 1) * d);
        t.true(close(row(out.terminalObs!), row(s.normTerminal), 1e-4) <= 1e-4, `step ${k}: terminal obs`);
      }
      // The returns are the same float64 operations on the same rewards: equal, not close.
      t.deepEqual(Array.from(vn.returns), s.returns, `step ${k}: discounted returns`);
      t.true(momentsClose(vn.obsRms!, s.obsRms, 1e-6), `step ${k}: obs statistics`);
      t.true(momentsClose(vn.retRms, s.retRms, 1e-9), `step ${k}: return statistics`);
      if (!s.training) frozen++;
    }
    t.true(worstObs <= 1e-4, `observations within ${worstObs}`);
    t.true(ends > 0 && c.steps.some((s) => s.truncated.some(Boolean)), "episodes ended, some by truncation");
    t.true(frozen > 0 && c.steps.at(-1)!.obsRms.count === c.steps.at(-frozen - 1)!.obsRms.count);
    t.log(`${c.envId}: ${ends} episode ends, largest relative error of normalised observations ${worstObs}`);
  });
}

test("VecNormalize (style gymnasium) reproduces Gymnasium 1.3's NormalizeObservation + NormalizeReward as CleanRL stacks them", (t) => {
  const g = fixture.gymnasiumWrappers;
  const vn = new VecNormalize(1, g.obsDim, settings("gymnasium", g.gamma));
  // Gymnasium keeps CartPole's observation moments in float32 (the space's dtype): close, not equal.
  const tol = 1e-4;
  t.true(close(vn.reset(g.reset.raw), g.reset.norm, tol) <= tol);
  let terminations = 0;
  let truncations = 0;
  for (const [k, s] of g.steps.entries()) {
    const ended = Boolean(s.terminated || s.truncated);
    const next = ended ? s.resetRaw! : s.obs;
    const out = vn.step(next, [s.reward], [s.terminated], [s.truncated], ended ? s.obs : null);
    t.true(Math.abs(out.rewards[0]! - s.normReward) <= 1e-6, `step ${k}: reward`);
    t.true(momentsClose(vn.retRms, s.retRms, 1e-9), `step ${k}: return statistics`);
    if (ended) {
      t.true(close(out.terminalObs!, s.normObs, tol) <= tol, `step ${k}: terminal observation`);
      t.true(close(out.obs, s.resetNorm!, tol) <= tol, `step ${k}: reset observation`);
      t.true(momentsClose(vn.obsRms!, s.obsRmsAfterReset!, 1e-5), `step ${k}: obs statistics`);
    } else {
      t.true(close(out.obs, s.normObs, tol) <= tol, `step ${k}: observation`);
      t.true(momentsClose(vn.obsRms!, s.obsRms, 1e-5), `step ${k}: obs statistics`);
    }
    terminations += s.terminated;
    truncations += s.truncated;
  }
  t.true(terminations > 0 && truncations > 0, "episodes ended both ways");
});

test("frozen-per-iteration normalisation merges to SB3's statistics over the same data, and keeps SB3's returns", (t) => {
  const c = fixture.vecNormalize[0]!;
  const N = c.numEnvs;
  const training = c.steps.filter((s) => s.training);
  const s = settings("sb3", c.gamma, c);
  const learner = new RunningNormalization(c.obsDim, s);
  const collector = new RolloutNormalizer(N, c.obsDim, s);
  collector.pendingReset = true;
  const rewards = new Float32Array(N);
  const iterationSteps = 25;
  for (let start = 0; start < training.length; start += iterationSteps) {
    collector.setStats(learner.getState());
    collector.begin(start === 0 ? c.reset.raw : training[start - 1]!.obs);
    for (const step of training.slice(start, start + iterationSteps)) {
      const terminated = step.dones.map((done, i) => (done && !step.truncated[i] ? 1 : 0));
      collector.step(step.obs, step.rewards, terminated, step.truncated, step.terminal, rewards);
      t.deepEqual(Array.from(collector.returns), step.returns);
    }
    learner.absorb(collector.end());
  }
  const last = training.at(-1)!;
  const state = learner.getState();
  t.true(momentsClose(state.obs!, last.obsRms, 1e-6), "observation statistics");
  t.true(momentsClose(state.ret!, last.retRms, 1e-9), "return statistics");
});

test("update step: the collector's normaliser reproduces Gymnasium 1.3's wrappers on one env step by step, across iteration boundaries", (t) => {
  const g = fixture.gymnasiumWrappers;
  const s: NormalizationSettings = { ...settings("gymnasium", g.gamma), update: "step" };
  const learner = new RunningNormalization(g.obsDim, s);
  const collector = new RolloutNormalizer(1, g.obsDim, s);
  collector.pendingReset = true;
  const tol = 1e-4;
  const norm = new Float32Array(g.obsDim);
  const reward = new Float32Array(1);
  const iterationSteps = 32;
  let obs = g.reset.raw;
  let ends = 0;
  for (let start = 0; start < g.steps.length; start += iterationSteps) {
    // The learner's statistics lag an iteration behind; under "step" the collector does not use them.
    collector.setStats(learner.getState());
    collector.begin(obs);
    if (start === 0) t.true(close(collector.normalizeObs(obs, 1, norm), g.reset.norm, tol) <= tol, "reset");
    for (const [j, st] of g.steps.slice(start, start + iterationSteps).entries()) {
      const k = start + j;
      const ended = Boolean(st.terminated || st.truncated);
      obs = ended ? st.resetRaw! : st.obs;
      collector.step(obs, [st.reward], [st.terminated], [st.truncated], st.obs, reward);
      t.true(Math.abs(reward[0]! - st.normReward) <= 1e-6, `step ${k}: reward`);
      if (ended) {
        ends++;
        t.true(
          close(collector.finalObservation(0), st.normObs, tol) <= tol,
          `step ${k}: terminal observation`,
        );
        t.true(close(collector.normalizeObs(obs, 1, norm), st.resetNorm!, tol) <= tol, `step ${k}: reset`);
      } else {
        t.true(close(collector.normalizeObs(obs, 1, norm), st.normObs, tol) <= tol, `step ${k}: observation`);
      }
    }
    learner.absorb(collector.end());
  }
  t.true(ends > 0);
  // Each env's statistics go into its collector state; the learner's merged ones (for evaluation)
  // cover the same samples.
  const own = collector.getEnvStates()![0]!;
  const last = g.steps.at(-1)!;
  const expected = last.obsRmsAfterReset ?? last.obsRms;
  t.true(momentsClose(own.obs!, expected, 1e-5), "env statistics");
  t.true(momentsClose(own.ret!, last.retRms, 1e-9), "env return statistics");
  t.true(momentsClose(learner.getState().obs!, expected, 1e-5), "merged statistics");
});

for (const c of fixture.vecNormalize) {
  test(`update step (style sb3): each env of ${c.envId} × ${c.numEnvs} normalised as SB3's VecNormalize on that env alone`, (t) => {
    const N = c.numEnvs;
    const d = c.obsDim;
    const s: NormalizationSettings = { ...settings("sb3", c.gamma, c), update: "step" };
    const collector = new RolloutNormalizer(N, d, s);
    collector.setStats(new RunningNormalization(d, s, c.epsilon).getState());
    const references = Array.from(
      { length: N },
      () => new VecNormalize(1, d, { ...s, update: "iteration" }, c.epsilon),
    );
    const row = (a: ArrayLike<number>, i: number) => Array.from(a).slice(i * d, (i + 1) * d);
    collector.pendingReset = true;
    collector.begin(c.reset.raw);
    const norm = new Float32Array(N * d);
    const expectedReset = references.flatMap((v, i) => Array.from(v.reset(row(c.reset.raw, i))));
    t.deepEqual(Array.from(collector.normalizeObs(c.reset.raw, N, norm)), expectedReset);
    const rewards = new Float32Array(N);
    let ends = 0;
    for (const [k, st] of c.steps.filter((x) => x.training).entries()) {
      const terminated = st.dones.map((done, i) => (done && !st.truncated[i] ? 1 : 0));
      collector.step(st.obs, st.rewards, terminated, st.truncated, st.terminal, rewards);
      collector.normalizeObs(st.obs, N, norm);
      for (let i = 0; i < N; i++) {
        const out = references[i]!.step(
          row(st.obs, i),
          [st.rewards[i]!],
          [terminated[i]!],
          [st.truncated[i]!],
          st.dones[i] ? row(st.terminal, i) : null,
        );
        // The same float64 operations on the same inputs: equal, not close.
        t.is(rewards[i], out.rewards[0], `step ${k}, env ${i}: reward`);
        t.deepEqual(row(norm, i), Array.from(out.obs), `step ${k}, env ${i}: observation`);
        if (st.dones[i]) {
          ends++;
          t.deepEqual(Array.from(collector.finalObservation(i)), Array.from(out.terminalObs!));
        }
      }
    }
    t.true(ends > 0);
    t.deepEqual(
      collector.getEnvStates(),
      references.map((v) => ({ obs: v.obsRms!.getState(), ret: v.retRms.getState() })),
    );
  });
}

// --- PPO with normalisation: checkpoints, evaluation, the distributed path ---

const NUM_ENVS = 8;

function configFor(envId: string, overrides: Record<string, unknown>): Hyperparameters {
  return resolveHyperparameters(envId, "cleanrl", {
    seed: 4,
    numEnvs: NUM_ENVS,
    numMinibatches: 2,
    updateEpochs: 2,
    hiddenSizes: [16, 16],
    normalizeObs: true,
    normalizeReward: true,
    ...overrides,
  });
}

function deterministic(m: IterationMetrics): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  for (const k of WALL_TIME_KEYS) delete out[k];
  return out;
}

function comparable(state: TrainerState): unknown {
  return {
    ...state,
    params: Array.from(state.params),
    adam: { step: state.adam.step, m: Array.from(state.adam.m), v: Array.from(state.adam.v) },
    counters: { ...state.counters, elapsedSeconds: 0 },
  };
}

function rolloutData(r: Rollout): unknown {
  return {
    obs: Array.from(r.obs),
    actions: Array.from(r.actions),
    rewards: Array.from(r.rewards),
    nextObs: Array.from(r.nextObs),
    truncatedIndex: Array.from(r.truncatedIndex),
    truncatedObs: Array.from(r.truncatedObs),
    episodes: r.episodes.map((e) => `${e.return}/${e.length}`).sort(),
  };
}

async function singleProcess(envId: string, config: Hyperparameters, iterations: number) {
  const trainer = await PPOTrainer.create({ envId, config });
  const steps: { metrics: Record<string, unknown>; rollout: unknown }[] = [];
  for (let i = 0; i < iterations; i++) {
    const r = trainer.collect();
    const rollout = rolloutData(r);
    steps.push({ metrics: deterministic(trainer.learn(r)), rollout });
  }
  return { trainer, steps, state: trainer.getState() };
}

const SPLIT_CASES = [
  { envId: "CartPole-v1", numSteps: 16, iterations: 4, style: "sb3", update: "iteration" },
  // Pendulum truncates at 200 steps: the truncated final observations are normalised too.
  { envId: "Pendulum-v1", numSteps: 32, iterations: 7, style: "sb3", update: "iteration" },
  { envId: "CartPole-v1", numSteps: 16, iterations: 4, style: "gymnasium", update: "iteration" },
  // Per-step statistics are each env's own: the split cannot change them either.
  { envId: "CartPole-v1", numSteps: 16, iterations: 4, style: "gymnasium", update: "step" },
  { envId: "Pendulum-v1", numSteps: 32, iterations: 7, style: "gymnasium", update: "step" },
  { envId: "Pendulum-v1", numSteps: 32, iterations: 7, style: "sb3", update: "step" },
] as const;

for (const { envId, numSteps, iterations, style, update } of SPLIT_CASES) {
  test(`${envId} (${style}, update ${update}): 2 collectors of 4 envs merged give PPOTrainer's 8-env rollouts, statistics and checkpoint, bit for bit`, async (t) => {
    const config = configFor(envId, {
      numSteps,
      totalTimesteps: NUM_ENVS * numSteps * iterations,
      normalizeStyle: style,
      normalizeUpdate: update,
    });
    const expected = await singleProcess(envId, config, iterations);
    const learner = await PPOLearner.create({ envId, config, spaces: builtinSpaces(envId) });
    const collectors: RolloutCollector[] = await Promise.all(
      [0, 1].map((index) => createRunnerCollector({ envId, config, numEnvs: 4, index })),
    );
    for (let i = 0; i < iterations; i++) {
      const parts = collectors.map((c) => {
        c.setPolicy(learner.policy.slice(), learner.weightsVersion);
        c.setNormalization(learner.normalizationState());
        return copyRollout(c.collect());
      });
      const merged = mergeRollouts(parts);
      t.deepEqual(rolloutData(merged), expected.steps[i]!.rollout, `iteration ${i + 1}: rollout`);
      t.deepEqual(deterministic(learner.learn(merged)), expected.steps[i]!.metrics, `iteration ${i + 1}`);
    }
    const state = learner.getState(mergeCollectorStates(collectors.map((c) => c.getState())));
    t.deepEqual(comparable(state), comparable(expected.state));
    t.truthy(state.normalization?.obs && state.normalization.ret);
    t.true(state.normalization!.obs!.count > NUM_ENVS * numSteps * iterations);
    t.is(state.rng.collector.returns?.length, NUM_ENVS);
    t.is(state.rng.collector.envNormalization?.length, update === "step" ? NUM_ENVS : undefined);
  });
}

test("env runners and the run's learner (actors) equal PPOTrainer with normalisation, statistics sent with the weights", async (t) => {
  const envId = "CartPole-v1";
  const iterations = 3;
  const config = configFor(envId, { numSteps: 16, totalTimesteps: NUM_ENVS * 16 * iterations });
  const expected = await singleProcess(envId, config, iterations);
  const learner = await RunLearner.create(envId, config);
  const runners = await Promise.all(
    [0, 1, 2, 3].map((index) => EnvRunner.create({ envId, config, numEnvs: 2, index })),
  );
  for (let i = 0; i < iterations; i++) {
    const weights = learner.weights();
    t.truthy(weights.normalization, "the statistics travel with the weights");
    const samples = await Promise.all(runners.map((r) => r.sample(weights)));
    const m = learner.learn(
      samples.map((s) => s.rollout),
      performance.now(),
    );
    t.deepEqual(deterministic(m), expected.steps[i]!.metrics, `iteration ${i + 1}`);
    if (i === iterations - 1) {
      const blob = learner.checkpoint(samples.map((s) => s.state));
      t.deepEqual(comparable(decodeCheckpoint(blob)), comparable(expected.state));
    }
  }
  await t.throwsAsync(
    (async () => {
      const r = await EnvRunner.create({ envId, config, numEnvs: 2, index: 0 });
      await r.sample({ ...learner.weights(), normalization: null });
    })(),
    { message: /no normalisation statistics were sent/ },
  );
});

for (const update of NORMALIZE_UPDATES)
  test(`normalisation statistics survive save → load (both checkpoint forms) and resume continues the run exactly (update ${update})`, async (t) => {
    const envId = "Pendulum-v1";
    const iterations = 6;
    const config = configFor(envId, {
      numSteps: 32,
      totalTimesteps: NUM_ENVS * 32 * iterations,
      normalizeUpdate: update,
    });
    const expected = await singleProcess(envId, config, iterations);
    const trainer = await PPOTrainer.create({ envId, config });
    for (let i = 0; i < 3; i++) await trainer.iterate();
    const state = trainer.getState();
    const fromBlob = decodeCheckpoint(encodeCheckpoint(state));
    t.deepEqual(fromBlob.normalization, state.normalization);
    t.deepEqual(fromBlob.rng.collector.returns, state.rng.collector.returns);
    t.deepEqual(fromBlob.rng.collector.envNormalization, state.rng.collector.envNormalization);
    const dir = await mkdtemp(join(tmpdir(), "proxima-norm-"));
    try {
      await saveCheckpoint(dir, state);
      const fromDir = await loadCheckpoint(dir);
      t.deepEqual(fromDir.normalization, state.normalization);
      const resumed = await PPOTrainer.fromState(fromDir);
      t.deepEqual(resumed.learner.normalizationState(), state.normalization ?? null);
      for (let i = 3; i < iterations; i++)
        t.deepEqual(deterministic(await resumed.iterate()), expected.steps[i]!.metrics, `iteration ${i + 1}`);
      t.deepEqual(comparable(resumed.getState()), comparable(expected.state));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

test("evaluation normalises observations with frozen statistics and reports raw returns", async (t) => {
  const envId = "CartPole-v1";
  const config = configFor(envId, { numSteps: 32, totalTimesteps: NUM_ENVS * 32 * 3 });
  const trainer = await PPOTrainer.create({ envId, config });
  let m: IterationMetrics | undefined;
  while (!trainer.done) m = await trainer.iterate();
  // CartPole pays 1 per step: raw episode returns equal lengths, normalised rewards would not.
  t.is(m!["charts/episodic_return"], m!["charts/episodic_length"]);
  const before = trainer.learner.normalizationState();
  const a = trainer.evaluate(4);
  const b = trainer.evaluate(4);
  t.deepEqual(trainer.learner.normalizationState(), before, "evaluation updates no statistics");
  t.deepEqual(a, b);
  t.deepEqual(a.returns, a.lengths, "raw returns");
  // The same policy fed raw observations is another evaluation: the statistics are applied.
  const { evaluatePolicy } = await import("../../rl/ppo/evaluation.ts");
  const raw = evaluatePolicy(envId, trainer.learner.spec, trainer.learner.params, 4, config.seed + 1_000_000);
  const normalised = evaluatePolicy(
    envId,
    trainer.learner.spec,
    trainer.learner.params,
    4,
    config.seed + 1_000_000,
    undefined,
    before,
  );
  t.deepEqual(normalised, a);
  t.notDeepEqual(raw.returns, a.returns);
});

/** The single-blob checkpoint with its manifest JSON rewritten by `edit` (checkpoint.ts's layout). */
function withManifest(blob: Uint8Array, edit: (manifest: Record<string, unknown>) => void): Uint8Array {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const n = view.getUint32(8, true);
  const manifest = JSON.parse(new TextDecoder().decode(blob.subarray(12, 12 + n))) as Record<string, unknown>;
  edit(manifest);
  const weights = blob.subarray(12 + ((n + 3) & ~3));
  const text = new TextEncoder().encode(JSON.stringify(manifest));
  const padded = (text.length + 3) & ~3;
  const out = new Uint8Array(12 + padded + weights.length);
  out.set(blob.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(weights, 12 + padded);
  return out;
}

test("a checkpoint from before normalisation (no statistics, no new config fields) loads and evaluates as before", async (t) => {
  const envId = "CartPole-v1";
  const config = resolveHyperparameters(envId, "cleanrl", {
    seed: 2,
    numEnvs: 4,
    numSteps: 16,
    totalTimesteps: 4 * 16 * 3,
  });
  const trainer = await PPOTrainer.create({ envId, config });
  await trainer.iterate();
  const state = trainer.getState();
  t.is(state.normalization, undefined);
  t.is(state.rng.collector.returns, undefined);
  // The old manifest: a config without the normalisation fields, and no statistics.
  const blob = withManifest(encodeCheckpoint(state), (m) => {
    const config = m.config as Record<string, unknown>;
    for (const k of ["normalizeObs", "normalizeReward", "clipObs", "clipReward", "normalizeStyle"]) {
      t.true(k in config);
      delete config[k];
    }
    t.false("normalization" in m);
  });
  const old = decodeCheckpoint(blob);
  t.is(old.normalization, undefined);
  t.false(old.config.normalizeObs ?? false);
  const resumed = await PPOTrainer.fromState(old);
  t.is(resumed.learner.normalizationState(), null);
  t.deepEqual(resumed.evaluate(3), trainer.evaluate(3));
  t.deepEqual(deterministic(await resumed.iterate()), deterministic(await trainer.iterate()));
});

test("a whole-run state cut for runners keeps each env's discounted return and own statistics in global env order", async (t) => {
  const envId = "CartPole-v1";
  const config = configFor(envId, {
    numSteps: 16,
    totalTimesteps: NUM_ENVS * 16 * 2,
    normalizeUpdate: "step",
  });
  const trainer = await PPOTrainer.create({ envId, config });
  await trainer.iterate();
  const whole = trainer.getState().rng.collector;
  t.is(whole.returns!.length, NUM_ENVS);
  t.is(whole.envNormalization!.length, NUM_ENVS);
  const parts = [0, 1, 2, 3].map((r) => runnerCollectorState(whole, r * 2, 2));
  for (const key of ["returns", "envNormalization"] as const) {
    t.deepEqual(
      parts.map((p) => p[key]),
      [0, 1, 2, 3].map((r) => whole[key]!.slice(r * 2, r * 2 + 2)),
    );
    t.deepEqual(mergeCollectorStates(parts)[key], whole[key]);
  }
});

for (const update of NORMALIZE_UPDATES)
  test(`a takeover continues the normalised run: the run's learner from the checkpoint blob, runners of another split from its cut states (update ${update})`, async (t) => {
    const envId = "CartPole-v1";
    const iterations = 4;
    const config = configFor(envId, {
      numSteps: 16,
      totalTimesteps: NUM_ENVS * 16 * iterations,
      normalizeUpdate: update,
    });
    const expected = await singleProcess(envId, config, iterations);
    // The first activation: 2 runners × 4 envs, checkpointed after 2 iterations.
    const first = await RunLearner.create(envId, config);
    const firstRunners = await Promise.all(
      [0, 1].map((index) => EnvRunner.create({ envId, config, numEnvs: 4, index })),
    );
    let states: RolloutCollectorState[] = [];
    for (let i = 0; i < 2; i++) {
      const samples = await Promise.all(firstRunners.map((r) => r.sample(first.weights())));
      first.learn(
        samples.map((s) => s.rollout),
        performance.now(),
      );
      states = samples.map((s) => s.state);
    }
    const blob = first.checkpoint(states);
    // The next activation (another node): 4 runners × 2 envs restored from the blob.
    const next = await RunLearner.create(envId, config, blob);
    t.deepEqual(next.normalizationState(), first.normalizationState());
    const runners = await Promise.all(
      [0, 1, 2, 3].map((index) =>
        EnvRunner.create({ envId, config, numEnvs: 2, index }, next.runnerState(index * 2, 2)),
      ),
    );
    for (let i = 2; i < iterations; i++) {
      const samples = await Promise.all(runners.map((r) => r.sample(next.weights())));
      const m = next.learn(
        samples.map((s) => s.rollout),
        performance.now(),
      );
      t.deepEqual(deterministic(m), expected.steps[i]!.metrics, `iteration ${i + 1}`);
      states = samples.map((s) => s.state);
    }
    t.deepEqual(comparable(decodeCheckpoint(next.checkpoint(states))), comparable(expected.state));
  });
