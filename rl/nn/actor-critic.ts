/**
 * The agent of CleanRL's `ppo.py` / `ppo_continuous_action.py`: separate actor and critic MLPs and,
 * for Box actions, a state-independent log-std parameter (initialised to 0). All parameters are one
 * flat Float32Array θ laid out as [actor | logstd | critic], so that the policy part (what an env
 * runner needs) is the prefix θ[0, policySize).
 */
import type { Rng } from "../core/rng.ts";
import type { Activation } from "../ppo/hyperparameters.ts";
import { type LossCoefficients, type LossStats, type MinibatchTargets, ppoLoss } from "../ppo/loss.ts";
import type { Allocator } from "./arena.ts";
import type { Gemm } from "./gemm.ts";
import { initMlp, MlpKernel, type MlpLayout, mlpLayout } from "./mlp.ts";

export type ActionSpec =
  | { kind: "discrete"; n: number }
  | { kind: "box"; dim: number; low: Float32Array; high: Float32Array };

export interface NetworkSpec {
  obsDim: number;
  action: ActionSpec;
  hiddenSizes: readonly number[];
  activation: Activation;
}

export interface ParameterLayout {
  actor: MlpLayout;
  /** Offset of the log-std vector (box only; equals actor.size). */
  logstd: number;
  /** Width of the policy output: logits (discrete) or means (box). */
  outDim: number;
  critic: MlpLayout;
  criticOffset: number;
  /** Parameters an env runner needs: actor and log-std. */
  policySize: number;
  size: number;
}

export function parameterLayout(spec: NetworkSpec): ParameterLayout {
  const outDim = spec.action.kind === "discrete" ? spec.action.n : spec.action.dim;
  const actor = mlpLayout([spec.obsDim, ...spec.hiddenSizes, outDim]);
  const logstdSize = spec.action.kind === "box" ? outDim : 0;
  const critic = mlpLayout([spec.obsDim, ...spec.hiddenSizes, 1]);
  const policySize = actor.size + logstdSize;
  return {
    actor,
    logstd: actor.size,
    outDim,
    critic,
    criticOffset: policySize,
    policySize,
    size: policySize + critic.size,
  };
}

/**
 * CleanRL's init: critic first, then actor (the order of `Agent.__init__`'s layer_init calls does not
 * matter for correctness; we fix critic → actor so seeds are stable). Hidden gain √2, value head 1,
 * policy head 0.01, log-std 0.
 */
export function initParameters(layout: ParameterLayout, params: Float32Array, rng: Rng): void {
  initMlp(layout.critic, params.subarray(layout.criticOffset, layout.size), rng, 1.0);
  initMlp(layout.actor, params.subarray(0, layout.actor.size), rng, 0.01);
  params.fill(0, layout.logstd, layout.policySize);
}

/** One minibatch for `lossAndGrad`: observations [M, obsDim] plus the PPO targets. */
export interface Minibatch extends MinibatchTargets {
  M: number;
  obs: Float32Array;
}

/** What the learner needs from a network implementation (fused kernel or tfjs). */
export interface ActorCriticEngine {
  readonly name: string;
  /** Policy outputs [M, outDim] (logits or means) for obs [M, obsDim]; view valid until the next call. */
  policyOut(params: Float32Array, obs: Float32Array, M: number): Float32Array;
  /** Critic values for obs [M, obsDim] into out[0, M). */
  values(params: Float32Array, obs: Float32Array, M: number, out: Float32Array): void;
  /** Loss statistics; writes dLoss/dθ into `grads` (overwrites). */
  lossAndGrad(params: Float32Array, grads: Float32Array, mb: Minibatch, coefs: LossCoefficients): LossStats;
  dispose(): void;
}

/**
 * The fused engine: forward, loss head and backward of both networks on Float32Arrays, with the
 * matrix products done by `gemm` (JavaScript or WebAssembly SIMD). No tensors, no per-op dispatch.
 */
export class FusedActorCritic implements ActorCriticEngine {
  readonly name: string;
  readonly maxBatch: number;
  private readonly layout: ParameterLayout;
  private readonly kind: "discrete" | "box";
  private readonly actor: MlpKernel;
  private readonly critic: MlpKernel;
  private readonly dOut: Float32Array;
  private readonly dValue: Float32Array;
  private readonly dLogstd: Float32Array | null;

  constructor(spec: NetworkSpec, maxBatch: number, alloc: Allocator, gemm: Gemm) {
    this.name = `fused-${gemm.name}`;
    this.layout = parameterLayout(spec);
    this.kind = spec.action.kind;
    this.maxBatch = maxBatch;
    this.actor = new MlpKernel(this.layout.actor, spec.activation, maxBatch, alloc, gemm);
    this.critic = new MlpKernel(this.layout.critic, spec.activation, maxBatch, alloc, gemm);
    this.dOut = alloc.alloc(maxBatch * this.layout.outDim);
    this.dValue = alloc.alloc(maxBatch);
    this.dLogstd = this.kind === "box" ? new Float32Array(this.layout.outDim) : null;
  }

  private actorParams(params: Float32Array): Float32Array {
    return params.subarray(0, this.layout.actor.size);
  }

  private criticParams(params: Float32Array): Float32Array {
    return params.subarray(this.layout.criticOffset, this.layout.size);
  }

  policyOut(params: Float32Array, obs: Float32Array, M: number): Float32Array {
    return this.actor.forward(this.actorParams(params), obs, M);
  }

  values(params: Float32Array, obs: Float32Array, M: number, out: Float32Array): void {
    const cp = this.criticParams(params);
    const obsDim = this.layout.critic.sizes[0];
    for (let start = 0; start < M; start += this.maxBatch) {
      const m = Math.min(this.maxBatch, M - start);
      const v = this.critic.forward(cp, obs.subarray(start * obsDim, (start + m) * obsDim), m);
      out.set(v.subarray(0, m), start);
    }
  }

  lossAndGrad(params: Float32Array, grads: Float32Array, mb: Minibatch, coefs: LossCoefficients): LossStats {
    const { M } = mb;
    const L = this.layout;
    const out = this.actor.forward(this.actorParams(params), mb.obs, M);
    const newvalue = this.critic.forward(this.criticParams(params), mb.obs, M);
    const logstd = this.kind === "box" ? params.subarray(L.logstd, L.policySize) : null;
    const dOut = this.dOut.subarray(0, M * L.outDim);
    const dValue = this.dValue.subarray(0, M);
    const stats = ppoLoss({ M, kind: this.kind, outDim: L.outDim, out, logstd, newvalue }, mb, coefs, {
      dOut,
      dLogstd: this.dLogstd,
      dValue,
    });
    this.actor.backward(this.actorParams(params), grads.subarray(0, L.actor.size), dOut);
    this.critic.backward(this.criticParams(params), grads.subarray(L.criticOffset, L.size), dValue);
    if (this.dLogstd) grads.set(this.dLogstd, L.logstd);
    return stats;
  }

  dispose(): void {}
}
