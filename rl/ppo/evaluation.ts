/**
 * Deterministic-policy evaluation (argmax of the logits, or the mean clipped to the action bounds) of
 * θ on fresh envs: the figure a trained agent is judged by, for the local loop (`proxima train`), the
 * learner thread of a distributed run (actors/evaluation.ts) and `proxima eval`.
 */
import type { ReplayEpisode } from "../../contracts/replay.ts";
import { makeEnv } from "../envs/registry.ts";
import { recordEpisode } from "../envs/render.ts";
import { type AsyncVectorEnv, makeVectorEnv, type VectorStepResult } from "../envs/vector.ts";
import { type NetworkSpec, parameterLayout } from "../nn/actor-critic.ts";
import { Arena } from "../nn/arena.ts";
import { type Gemm, jsGemm } from "../nn/gemm.ts";
import { MlpKernel } from "../nn/mlp.ts";
import { type NormalizationState, normalizeObsInto } from "./normalize.ts";
import { greedyActions } from "./rollout.ts";

export interface EvaluationResult {
  returns: number[];
  lengths: number[];
  mean: number;
  std: number;
}

/**
 * Deterministic-policy evaluation (argmax / clipped mean) of θ on a vector env of `numEnvs` fresh
 * envs: the first episode of each. One step at a time: `act` gives the actions for the current
 * observations, `record` takes the env's step and tells whether every env has finished once.
 */
class Evaluation {
  readonly envActions: Int32Array | Float32Array;
  private readonly p: Float32Array;
  private readonly actor: MlpKernel;
  private readonly returns: number[];
  private readonly lengths: number[];
  private remaining: number;
  /** Normalised observations, when the policy was trained on normalised ones. */
  private readonly normObs: Float32Array | null;

  constructor(
    private readonly spec: NetworkSpec,
    params: Float32Array,
    private readonly episodes: number,
    gemm: Gemm,
    private readonly normalization: NormalizationState | null = null,
  ) {
    if (!Number.isInteger(episodes) || episodes < 1)
      throw new RangeError(`episodes must be a positive integer, got ${episodes}`);
    const layout = parameterLayout(spec);
    if (params.length !== layout.size)
      throw new RangeError(
        `θ has ${params.length} parameters; a network for this env's spaces has ${layout.size}: not the env it was trained on`,
      );
    const { value } = Arena.build((alloc) => {
      const p = alloc.alloc(layout.actor.size);
      return { p, actor: new MlpKernel(layout.actor, spec.activation, episodes, alloc, gemm) };
    });
    this.p = value.p;
    this.actor = value.actor;
    this.p.set(params.subarray(0, layout.actor.size));
    this.envActions =
      spec.action.kind === "discrete"
        ? new Int32Array(episodes)
        : new Float32Array(episodes * spec.action.dim);
    this.returns = new Array<number>(episodes).fill(Number.NaN);
    this.lengths = new Array<number>(episodes).fill(0);
    this.remaining = episodes;
    this.normObs = normalization?.obs ? new Float32Array(episodes * spec.obsDim) : null;
  }

  act(obs: Float32Array): Int32Array | Float32Array {
    greedyActions(
      this.spec.action,
      this.actor.forward(this.p, this.policyObs(obs), this.episodes),
      this.episodes,
      this.envActions,
    );
    return this.envActions;
  }

  /** The observations as the policy saw them in training: normalised with frozen statistics (rewards stay raw). */
  private policyObs(obs: Float32Array): Float32Array {
    const s = this.normalization;
    if (!s?.obs || !this.normObs) return obs;
    return normalizeObsInto(obs, this.episodes, s.obs, s.epsilon, s.clipObs, this.normObs);
  }

  /** True when every env has finished its first episode. */
  record(step: VectorStepResult): boolean {
    for (const e of step.episodes) {
      if (Number.isNaN(this.returns[e.index])) {
        this.returns[e.index] = e.return;
        this.lengths[e.index] = e.length;
        this.remaining--;
      }
    }
    return this.remaining === 0;
  }

  result(): EvaluationResult {
    const { returns, episodes } = this;
    const mean = returns.reduce((a, b) => a + b, 0) / episodes;
    const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / episodes);
    return { returns: [...returns], lengths: [...this.lengths], mean, std };
  }
}

/**
 * Deterministic evaluation of θ's policy on `episodes` fresh envs (the first episode of each); with
 * `normalization`, the policy sees observations normalised by those statistics, frozen.
 */
export function evaluatePolicy(
  envId: string,
  spec: NetworkSpec,
  params: Float32Array,
  episodes: number,
  seed: number,
  gemm: Gemm = jsGemm,
  normalization: NormalizationState | null = null,
): EvaluationResult {
  const evaluation = new Evaluation(spec, params, episodes, gemm, normalization);
  const env = makeVectorEnv(envId, episodes);
  try {
    let obs = env.reset({ seed });
    for (;;) {
      const step = env.step(evaluation.act(obs));
      if (evaluation.record(step)) return evaluation.result();
      obs = step.observations;
    }
  } finally {
    env.close();
  }
}

/** `evaluatePolicy` on a vector env of `episodes` sub-envs that steps elsewhere (an env defined by code). */
export async function evaluatePolicyOn(
  env: AsyncVectorEnv,
  spec: NetworkSpec,
  params: Float32Array,
  seed: number,
  gemm: Gemm = jsGemm,
  normalization: NormalizationState | null = null,
): Promise<EvaluationResult> {
  const evaluation = new Evaluation(spec, params, env.numEnvs, gemm, normalization);
  let obs = await env.reset({ seed });
  for (;;) {
    const step = await env.step(evaluation.act(obs));
    if (evaluation.record(step)) return evaluation.result();
    obs = step.observations;
  }
}

/**
 * One episode of θ's deterministic policy from `reset({ seed })`, recorded for drawing
 * (rl/envs/render.ts). It is the episode of sub-env i of `evaluatePolicy(..., seed − i, ...)`: the
 * same initial state, and the same actions, since each row of the policy's forward pass depends on
 * its own observation only (the GEMM reduces every output row on its own, whatever the batch).
 */
export function replayPolicy(
  envId: string,
  spec: NetworkSpec,
  params: Float32Array,
  seed: number,
  gemm: Gemm = jsGemm,
  normalization: NormalizationState | null = null,
): ReplayEpisode {
  const policy = new Evaluation(spec, params, 1, gemm, normalization);
  const env = makeEnv(envId);
  try {
    return recordEpisode(env, seed, (obs) => policy.act(obs));
  } finally {
    env.close();
  }
}
