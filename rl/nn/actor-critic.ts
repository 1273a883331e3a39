/**
 * The agent of CleanRL's `ppo.py` / `ppo_continuous_action.py`: separate actor and critic MLPs and,
 * for Box actions, a state-independent log-std parameter (initialised to 0). All parameters are one
 * flat Float32Array θ laid out as [actor | logstd | critic], so that the policy part (what an env
 * runner needs) is the prefix θ[0, policySize).
 *
 * With gSDE (`useSde`, Raffin, Kober & Stulp, "Smooth Exploration for Robotic Reinforcement
 * Learning", CoRL 2021) the log-std is a matrix [latentDim, actionDim] (row-major), latentDim being
 * the actor's last hidden width, as SB3's `StateDependentNoiseDistribution.proba_distribution_net`
 * with full_std=True; see `gsdeVariance` for how it enters the policy.
 */
import type { Rng } from "../core/rng.ts";
import type { Activation } from "../ppo/hyperparameters.ts";
import { type LossCoefficients, type LossStats, type MinibatchTargets, ppoLoss } from "../ppo/loss.ts";
import { type Allocator, Arena } from "./arena.ts";
import type { Gemm } from "./gemm.ts";
import { initMlp, initMlpTorchDefault, MlpKernel, type MlpLayout, mlpLayout } from "./mlp.ts";

export type ActionSpec =
  | { kind: "discrete"; n: number }
  | { kind: "box"; dim: number; low: Float32Array; high: Float32Array };

export interface NetworkSpec {
  obsDim: number;
  action: ActionSpec;
  hiddenSizes: readonly number[];
  activation: Activation;
  /** gSDE (Box actions only): a log-std matrix over the actor's last hidden features. */
  useSde?: boolean;
}

/** How θ is initialised (SB3 `ActorCriticPolicy` arguments `ortho_init` and `log_std_init`). */
export interface InitOptions {
  orthoInit?: boolean;
  logStdInit?: number;
}

/** SB3 `StateDependentNoiseDistribution`'s epsilon, added to the variance before the square root. */
export const GSDE_EPSILON = 1e-6;

export interface ParameterLayout {
  actor: MlpLayout;
  /** Offset of the log-std vector, or gSDE's log-std matrix (box only; equals actor.size). */
  logstd: number;
  /** gSDE: the log-std is a matrix [latentDim, outDim] over the actor's last hidden features. */
  sde: boolean;
  /** Width of the actor's last hidden layer (gSDE's latent features). */
  latentDim: number;
  /** Shape of the log-std tensor: [outDim] (diagonal Gaussian), [latentDim, outDim] (gSDE), [] (discrete). */
  logstdShape: number[];
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
  const sde = spec.useSde === true;
  if (sde && spec.action.kind !== "box") throw new RangeError("gSDE needs a Box action space");
  const latentDim = spec.hiddenSizes[spec.hiddenSizes.length - 1]!;
  const logstdShape = spec.action.kind !== "box" ? [] : sde ? [latentDim, outDim] : [outDim];
  const logstdSize = logstdShape.reduce((a, b) => a * b, logstdShape.length === 0 ? 0 : 1);
  const critic = mlpLayout([spec.obsDim, ...spec.hiddenSizes, 1]);
  const policySize = actor.size + logstdSize;
  return {
    actor,
    logstd: actor.size,
    sde,
    latentDim,
    logstdShape,
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
 * policy head 0.01, log-std 0. `orthoInit: false` gives PyTorch's default nn.Linear init instead
 * (SB3 `ortho_init=False`), and `logStdInit` the log-std's value (SB3 `log_std_init`: every entry of
 * the vector, or of gSDE's matrix, `th.ones(...) * log_std_init`).
 */
export function initParameters(
  layout: ParameterLayout,
  params: Float32Array,
  rng: Rng,
  init: InitOptions = {},
): void {
  const critic = params.subarray(layout.criticOffset, layout.size);
  const actor = params.subarray(0, layout.actor.size);
  if (init.orthoInit ?? true) {
    initMlp(layout.critic, critic, rng, 1.0);
    initMlp(layout.actor, actor, rng, 0.01);
  } else {
    initMlpTorchDefault(layout.critic, critic, rng);
    initMlpTorchDefault(layout.actor, actor, rng);
  }
  params.fill(init.logStdInit ?? 0, layout.logstd, layout.policySize);
}

/**
 * gSDE's variance of the action Gaussian, SB3 `StateDependentNoiseDistribution.proba_distribution`:
 * variance[M, d] = (latent²)[M, H] · (exp(logstd)²)[H, d] (get_std with use_expln=False, full_std),
 * written into `variance`; `latentSq` and `stdSq` receive latent² and exp(logstd)². The latent is the
 * actor's last hidden features, detached (learn_features=False): no gradient reaches the features
 * through the variance. The distribution is then Normal(mean, √(variance + GSDE_EPSILON)).
 */
export function gsdeVariance(
  gemm: Gemm,
  latent: Float32Array,
  logstd: Float32Array,
  M: number,
  H: number,
  d: number,
  latentSq: Float32Array,
  stdSq: Float32Array,
  zeros: Float32Array,
  variance: Float32Array,
): void {
  for (let i = 0; i < M * H; i++) latentSq[i] = latent[i] * latent[i];
  for (let i = 0; i < H * d; i++) stdSq[i] = Math.exp(2 * logstd[i]);
  gemm.dense(latentSq, stdSq, zeros, variance, M, H, d, "linear");
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
  private readonly gemm: Gemm;
  private readonly sde: GsdeBuffers | null;

  constructor(spec: NetworkSpec, maxBatch: number, alloc: Allocator, gemm: Gemm) {
    this.name = `fused-${gemm.name}`;
    this.layout = parameterLayout(spec);
    this.kind = spec.action.kind;
    this.maxBatch = maxBatch;
    this.gemm = gemm;
    this.actor = new MlpKernel(this.layout.actor, spec.activation, maxBatch, alloc, gemm);
    this.critic = new MlpKernel(this.layout.critic, spec.activation, maxBatch, alloc, gemm);
    this.dOut = alloc.alloc(maxBatch * this.layout.outDim);
    this.dValue = alloc.alloc(maxBatch);
    const L = this.layout;
    this.dLogstd = this.kind === "box" ? alloc.alloc(L.policySize - L.logstd) : null;
    this.sde = L.sde ? gsdeBuffers(L, maxBatch, alloc) : null;
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
    const sde = this.sde;
    if (sde) {
      sde.logstd.set(logstd!);
      gsdeVariance(
        this.gemm,
        this.actor.hidden(),
        sde.logstd,
        M,
        L.latentDim,
        L.outDim,
        sde.latentSq,
        sde.stdSq,
        sde.zeros,
        sde.variance,
      );
    }
    const stats = ppoLoss(
      {
        M,
        kind: this.kind,
        outDim: L.outDim,
        out,
        logstd: sde ? null : logstd,
        variance: sde ? sde.variance.subarray(0, M * L.outDim) : null,
        newvalue,
      },
      mb,
      coefs,
      {
        dOut,
        dLogstd: sde ? null : this.dLogstd,
        dVariance: sde ? sde.dVariance.subarray(0, M * L.outDim) : null,
        dValue,
      },
    );
    this.actor.backward(this.actorParams(params), grads.subarray(0, L.actor.size), dOut);
    this.critic.backward(this.criticParams(params), grads.subarray(L.criticOffset, L.size), dValue);
    if (sde) {
      // d variance[i,k] / d logstd[j,k] = 2·latent[i,j]²·exp(2·logstd[j,k]), so
      // dL/dlogstd = 2·exp(2·logstd) ⊙ (latent²)ᵀ·dL/dvariance; the detached latent gets nothing.
      this.gemm.tn(sde.latentSq, sde.dVariance, this.dLogstd!, M, L.latentDim, L.outDim);
      for (let i = 0; i < this.dLogstd!.length; i++) this.dLogstd![i] *= 2 * sde.stdSq[i];
    }
    if (this.dLogstd) grads.set(this.dLogstd, L.logstd);
    return stats;
  }

  dispose(): void {}
}

/** gSDE's working buffers, in the allocator's memory so the WebAssembly GEMM can read them. */
interface GsdeBuffers {
  logstd: Float32Array;
  latentSq: Float32Array;
  stdSq: Float32Array;
  zeros: Float32Array;
  variance: Float32Array;
  dVariance: Float32Array;
}

function gsdeBuffers(L: ParameterLayout, maxBatch: number, alloc: Allocator): GsdeBuffers {
  const H = L.latentDim;
  const d = L.outDim;
  return {
    logstd: alloc.alloc(H * d),
    latentSq: alloc.alloc(maxBatch * H),
    stdSq: alloc.alloc(H * d),
    zeros: alloc.alloc(d).fill(0),
    variance: alloc.alloc(maxBatch * d),
    dVariance: alloc.alloc(maxBatch * d),
  };
}

/**
 * A fused engine for batches of up to `maxBatch` rows with its parameters and gradients, all in one
 * Arena of their own (what a test or a benchmark of the kernel needs; a learner builds its engine into
 * the Arena of its whole update).
 */
export function buildFusedEngine(spec: NetworkSpec, maxBatch: number, gemm: Gemm) {
  const layout = parameterLayout(spec);
  const { value } = Arena.build((alloc) => ({
    engine: new FusedActorCritic(spec, maxBatch, alloc, gemm),
    params: alloc.alloc(layout.size),
    grads: alloc.alloc(layout.size),
  }));
  return { layout, ...value };
}
