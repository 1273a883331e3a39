/**
 * The seams a distributed PPO run needs beyond the single-process trainer (RLlib's EnvRunner /
 * Learner split): a rollout collector built on its own from an env id and a configuration, that acts
 * with weights it is sent; the seeds of runner r's envs, keyed by their global indices so that the
 * run does not depend on how its envs are split over runners; the merge of R runners' rollouts (E envs
 * each) into the one rollout of R·E envs that the Learner expects, as if a single vector env had
 * stepped all of them; and the merge and split of their collector states.
 */
import type { CodeEnvDefinition } from "../envs/code-env.ts";
import { prepareEnv } from "../envs/registry.ts";
import { type AsyncVectorEnv, makeVectorEnv, type VectorEnv, type VectorEnvState } from "../envs/vector.ts";
import { parameterLayout } from "../nn/actor-critic.ts";
import { Arena } from "../nn/arena.ts";
import type { Gemm } from "../nn/gemm.ts";
import { MlpKernel } from "../nn/mlp.ts";
import { sdeOptions } from "./gsde.ts";
import type { Hyperparameters } from "./hyperparameters.ts";
import { loadGemm, networkSpecOf, spacesOf } from "./network.ts";
import { concatMoments, type NormalizationSettings, normalizationSettings } from "./normalize.ts";
import {
  actionStreamStates,
  actionStreams,
  type Rollout,
  RolloutCollector,
  type RolloutCollectorState,
} from "./rollout.ts";

/** The settings a runner's normaliser needs (absent: the run does not normalise). */
type RunnerNormalizationConfig = Partial<
  Pick<
    Hyperparameters,
    | "gamma"
    | "normalizeObs"
    | "normalizeReward"
    | "clipObs"
    | "clipReward"
    | "normalizeStyle"
    | "normalizeUpdate"
  >
>;

/** A runner's normalisation settings from the run's configuration; null when it normalises nothing. */
export function runnerNormalization(config: RunnerNormalizationConfig): NormalizationSettings | null {
  if (!config.normalizeObs && !config.normalizeReward) return null;
  if (config.gamma === undefined) throw new RangeError("a run that normalises rewards needs its gamma");
  return normalizationSettings({ ...config, gamma: config.gamma });
}

/** What an env runner needs to know about its run. */
export interface EnvRunnerSpec {
  envId: string;
  config: RunnerNormalizationConfig &
    Pick<Hyperparameters, "seed" | "numSteps" | "hiddenSizes" | "activation"> &
    Partial<Pick<Hyperparameters, "useSde" | "sdeSampleFreq">>;
  /** Envs of this runner (the run's numEnvs / runners). */
  numEnvs: number;
  /** 0-based index of the runner within the run: its envs are the run's envs index·numEnvs…. */
  index: number;
  /** For an env defined by code (`custom:<id>`): its script and declared spec. */
  codeEnv?: CodeEnvDefinition;
}

/**
 * Runner `index` of `numEnvs` envs steps the run's global envs firstEnv … firstEnv+numEnvs−1, with
 * firstEnv = index·numEnvs. Everything random is keyed by the global index g, as in PPOTrainer's one
 * vector env of all the run's envs: env g is seeded seed+g (Gymnasium's vector-env convention, so the
 * runner resets its vector env with envSeed = seed+firstEnv) and samples its actions from its own
 * stream (`actionStreamSeed(seed, g)`). A run's rollouts thus depend on its seed and its number of
 * envs only: 1 × 8, 2 × 4 and 4 × 2 are the same run.
 */
export function runnerSeeds(
  seed: number,
  index: number,
  numEnvs: number,
): { envSeed: number; firstEnv: number } {
  const firstEnv = index * numEnvs;
  return { envSeed: seed + firstEnv, firstEnv };
}

/** The Arena behind each runner's collector, for `releaseRunnerCollector`. */
const collectorArenas = new WeakMap<RolloutCollector, Arena>();

/**
 * Gives a runner collector's buffers (its Arena) to the next collector built in this thread. The
 * collector must not be used again, nor any array it returned that was not copied (EnvRunner.sample
 * copies its rollouts).
 */
export function releaseRunnerCollector(collector: RolloutCollector): void {
  collectorArenas.get(collector)?.release();
  collectorArenas.delete(collector);
}

/**
 * A RolloutCollector of its own (no learner, no critic), reset to the runner's seeds. Its env is the
 * registered `envId`'s, or `env` when given (one that steps elsewhere, such as a sandbox).
 */
export async function createRunnerCollector(
  spec: EnvRunnerSpec,
  options: { gemm?: Gemm; env?: VectorEnv | AsyncVectorEnv } = {},
): Promise<RolloutCollector> {
  const kernelGemm = options.gemm ?? (await loadGemm());
  if (!options.env) await prepareEnv(spec.envId);
  const env = options.env ?? makeVectorEnv(spec.envId, spec.numEnvs);
  const net = networkSpecOf(spacesOf(env), spec.config as Hyperparameters);
  const layout = parameterLayout(net);
  const { envSeed, firstEnv } = runnerSeeds(spec.config.seed, spec.index, spec.numEnvs);
  const rngs = actionStreams(spec.config.seed, firstEnv, spec.numEnvs);
  const { arena, value } = Arena.build((alloc) => {
    const actor = new MlpKernel(layout.actor, net.activation, spec.numEnvs, alloc, kernelGemm);
    return new RolloutCollector(
      env,
      net.action,
      actor,
      layout.policySize,
      spec.config.numSteps,
      rngs,
      alloc,
      sdeOptions(spec.config),
    );
  });
  collectorArenas.set(value, arena);
  value.configureNormalization(runnerNormalization(spec.config));
  await value.start(envSeed);
  return value;
}

/** A copy of a rollout that owns its arrays (the collector overwrites its own on the next call). */
export function copyRollout(r: Rollout): Rollout {
  return {
    ...r,
    obs: r.obs.slice(),
    actions: r.actions.slice(),
    logprobs: r.logprobs.slice(),
    rewards: r.rewards.slice(),
    terminated: r.terminated.slice(),
    truncated: r.truncated.slice(),
    nextObs: r.nextObs.slice(),
    truncatedIndex: r.truncatedIndex.slice(),
    truncatedObs: r.truncatedObs.slice(),
    episodes: r.episodes.map((e) => ({ ...e })),
  };
}

export class RolloutMergeError extends Error {
  override name = "RolloutMergeError";
}

/**
 * Interleaves R rollouts (runner order) into one: row t·N + (offset of runner r) + i holds runner r's
 * row t·E_r + i, with N = Σ E_r. Truncated steps and finished episodes are re-indexed the same way,
 * episodes listed by that index: all in global env order, as one vector env of all N envs gives them.
 * Timings are the slowest runner's (they ran in parallel).
 */
export function mergeRollouts(parts: readonly Rollout[]): Rollout {
  if (parts.length === 0) throw new RolloutMergeError("no rollouts to merge");
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  const { numSteps, obsDim, actDim, policyVersion } = first;
  for (const p of parts) {
    if (p.numSteps !== numSteps || p.obsDim !== obsDim || p.actDim !== actDim) {
      throw new RolloutMergeError("rollouts differ in numSteps, obsDim or actDim");
    }
    if (p.policyVersion !== policyVersion) {
      throw new RolloutMergeError(
        `rollouts acted with policy versions ${p.policyVersion} and ${policyVersion}`,
      );
    }
  }
  const N = parts.reduce((s, p) => s + p.numEnvs, 0);
  const size = numSteps * N;
  const out: Rollout = {
    numSteps,
    numEnvs: N,
    obsDim,
    actDim,
    policyVersion,
    obs: new Float32Array(size * obsDim),
    actions: new Float32Array(size * actDim),
    logprobs: new Float32Array(size),
    rewards: new Float32Array(size),
    terminated: new Uint8Array(size),
    truncated: new Uint8Array(size),
    nextObs: new Float32Array(N * obsDim),
    truncatedIndex: new Int32Array(parts.reduce((s, p) => s + p.truncatedIndex.length, 0)),
    truncatedObs: new Float32Array(parts.reduce((s, p) => s + p.truncatedObs.length, 0)),
    episodes: [],
    envSeconds: Math.max(...parts.map((p) => p.envSeconds)),
    inferenceSeconds: Math.max(...parts.map((p) => p.inferenceSeconds)),
  };
  /** Truncated steps as (merged index, runner, row in the runner's list), put in index order below. */
  const truncated: { idx: number; part: Rollout; j: number }[] = [];
  let offset = 0;
  for (const p of parts) {
    const E = p.numEnvs;
    for (let t = 0; t < numSteps; t++) {
      const src = t * E;
      const dst = t * N + offset;
      out.obs.set(p.obs.subarray(src * obsDim, (src + E) * obsDim), dst * obsDim);
      out.actions.set(p.actions.subarray(src * actDim, (src + E) * actDim), dst * actDim);
      out.logprobs.set(p.logprobs.subarray(src, src + E), dst);
      out.rewards.set(p.rewards.subarray(src, src + E), dst);
      out.terminated.set(p.terminated.subarray(src, src + E), dst);
      out.truncated.set(p.truncated.subarray(src, src + E), dst);
    }
    out.nextObs.set(p.nextObs, offset * obsDim);
    for (const e of p.episodes)
      out.episodes.push({ ...e, at: Math.floor(e.at / E) * N + offset + (e.at % E) });
    for (let j = 0; j < p.truncatedIndex.length; j++) {
      const idx = p.truncatedIndex[j]!;
      truncated.push({ idx: Math.floor(idx / E) * N + offset + (idx % E), part: p, j });
    }
    offset += E;
  }
  truncated.sort((a, b) => a.idx - b.idx);
  for (const [k, { idx, part, j }] of truncated.entries()) {
    out.truncatedIndex[k] = idx;
    out.truncatedObs.set(part.truncatedObs.subarray(j * obsDim, (j + 1) * obsDim), k * obsDim);
  }
  out.episodes.sort((a, b) => a.at - b.at);
  // Per-env moments in global env order: the learner merges them env by env, whatever the split.
  const normalization = concatMoments(parts.map((p) => p.normalization));
  if (normalization) out.normalization = normalization;
  return out;
}

/**
 * The collector state of the merged run, in global env order: every runner's action streams and the
 * vector env state of all R·E envs. Stored in the checkpoint blob so that the blob alone is a loadable
 * PPOTrainer checkpoint (`proxima eval`, or `proxima train` continuing with one collector), and split
 * again by `runnerCollectorState` for runners of any split.
 */
export function mergeCollectorStates(states: readonly RolloutCollectorState[]): RolloutCollectorState {
  if (states.length === 0) throw new RolloutMergeError("no collector states to merge");
  if (states.length === 1) return states[0]!;
  const envs = states.map((s) => s.env);
  const env: VectorEnvState = {
    version: 1,
    id: envs[0]!.id,
    numEnvs: envs.reduce((s, e) => s + e.numEnvs, 0),
    started: envs.every((e) => e.started),
    envs: envs.flatMap((e) => e.envs),
    episodeReturns: envs.flatMap((e) => e.episodeReturns),
    episodeLengths: envs.flatMap((e) => e.episodeLengths),
  };
  const merged: RolloutCollectorState = {
    rngs: states.flatMap((s) => actionStreamStates(s)),
    env,
    policyVersion: states[0]!.policyVersion,
  };
  if (states.every((s) => s.returns !== undefined)) merged.returns = states.flatMap((s) => s.returns!);
  if (states.every((s) => s.envNormalization !== undefined))
    merged.envNormalization = states.flatMap((s) => s.envNormalization!);
  return merged;
}

/**
 * The state of the runner that steps the global envs firstEnv … firstEnv+count−1, cut from a whole
 * run's state (global env order): how a checkpoint written by R runners restores into R′ runners.
 * A state from before per-env streams gets its streams (`actionStreamStates`) from the whole run's
 * state first, so that they too depend on the global index only.
 */
export function runnerCollectorState(
  state: RolloutCollectorState,
  firstEnv: number,
  count: number,
): RolloutCollectorState {
  const { env } = state;
  if (!Number.isInteger(firstEnv) || !Number.isInteger(count) || firstEnv < 0 || count < 1)
    throw new RangeError(`no runner has envs ${firstEnv} … ${firstEnv + count - 1}`);
  if (firstEnv + count > env.numEnvs)
    throw new RangeError(`envs ${firstEnv} … ${firstEnv + count - 1} of a run of ${env.numEnvs} envs`);
  const end = firstEnv + count;
  return {
    rngs: actionStreamStates(state).slice(firstEnv, end),
    env: {
      ...env,
      numEnvs: count,
      envs: env.envs.slice(firstEnv, end),
      episodeReturns: env.episodeReturns.slice(firstEnv, end),
      episodeLengths: env.episodeLengths.slice(firstEnv, end),
    },
    policyVersion: state.policyVersion,
    ...(state.returns ? { returns: state.returns.slice(firstEnv, end) } : {}),
    ...(state.envNormalization ? { envNormalization: state.envNormalization.slice(firstEnv, end) } : {}),
  };
}
