import type { ReplayEpisode } from "../contracts/replay.ts";
import type { CodeEnvDefinition } from "../rl/envs/code-env.ts";
import { isCodeEnvId } from "../rl/envs/code-env.ts";
import { builtinSpaces, prepareEnv } from "../rl/envs/registry.ts";
import {
  type EvaluationResult,
  evaluatePolicy,
  evaluatePolicyOn,
  replayPolicy,
} from "../rl/ppo/evaluation.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import { loadGemm, networkSpecOf, spacesOf } from "../rl/ppo/network.ts";
import type { NormalizationState } from "../rl/ppo/normalize.ts";

/**
 * The deterministic evaluation of a trained policy: argmax of the logits or the clipped mean, the first
 * episode of each of `episodes` fresh envs seeded from `seed` (rl/ppo/evaluation.ts `evaluatePolicy`).
 * Training returns come from the stochastic policy while it still changes; this is the figure a
 * trained agent is judged by (the "evaluation return" of SB3's EvalCallback and CleanRL's eval scripts).
 * A built-in env steps in this process; an env defined by code steps in a sandbox process of its own,
 * as on the workers. A completed run records it, and `proxima eval` prints the same for a checkpoint.
 */
export interface PolicyEvaluation {
  episodes: number;
  seed: number;
  returnMean: number;
  returnStd: number;
  lengthMean: number;
  returns: number[];
}

/** The seed of the evaluation envs when none is given: apart from every seed the training used. */
export function defaultEvaluationSeed(config: Pick<Hyperparameters, "seed">): number {
  return config.seed + 1_000_000;
}

export interface EvaluateOptions {
  episodes: number;
  seed: number;
  /** The training's normalisation statistics (frozen here); absent or null: the policy sees raw observations. */
  normalization?: NormalizationState | null;
  /** The script (and, when known, the spec it was checked with) of an env defined by code. */
  codeEnv?: Pick<CodeEnvDefinition, "code"> & Partial<Pick<CodeEnvDefinition, "spec">>;
}

export async function evaluateTrainedPolicy(
  envId: string,
  config: Hyperparameters,
  params: Float32Array,
  { episodes, seed, codeEnv, normalization = null }: EvaluateOptions,
): Promise<PolicyEvaluation> {
  const gemm = await loadGemm();
  let result: EvaluationResult;
  if (isCodeEnvId(envId)) {
    if (!codeEnv) throw new Error(`${envId} is an environment defined by code: its script is needed`);
    const { CodeVectorEnv } = await import("../sandbox/code-vector-env.ts");
    const env = await CodeVectorEnv.open(envId, codeEnv, episodes);
    try {
      const spec = networkSpecOf(spacesOf(env), config);
      result = await evaluatePolicyOn(env, spec, params, seed, gemm, normalization);
    } finally {
      await env.close();
    }
  } else {
    await prepareEnv(envId);
    const spec = networkSpecOf(builtinSpaces(envId), config);
    result = evaluatePolicy(envId, spec, params, episodes, seed, gemm, normalization);
  }
  return {
    episodes,
    seed,
    returnMean: result.mean,
    returnStd: result.std,
    lengthMean: result.lengths.reduce((a, b) => a + b, 0) / episodes,
    returns: result.returns,
  };
}

/**
 * Episode `episode` of the evaluation `evaluateTrainedPolicy(..., { seed })` makes, recorded for
 * drawing (rl/envs/render.ts): its env is reset with seed + episode, as the evaluation's vector env
 * resets its sub-env `episode`, and its return is that episode's. Built-in envs only: an env defined
 * by code has no drawing.
 */
export async function replayTrainedPolicy(
  envId: string,
  config: Hyperparameters,
  params: Float32Array,
  {
    seed,
    episode,
    normalization = null,
  }: Pick<EvaluateOptions, "seed" | "normalization"> & { episode: number },
): Promise<ReplayEpisode> {
  const gemm = await loadGemm();
  await prepareEnv(envId);
  const spec = networkSpecOf(builtinSpaces(envId), config);
  return replayPolicy(envId, spec, params, seed + episode, gemm, normalization);
}
