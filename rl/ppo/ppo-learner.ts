/**
 * PPOLearner (RLlib's Learner): the networks, the optimiser, the observation/reward normalisation
 * statistics, the schedules and counters of a PPO run, and the PPO update from rollouts collected
 * elsewhere: by the env runners of a distributed run (actors/learner.ts) or by the local loop's own
 * collector (rl/ppo/trainer.ts). It has no env: its spaces are given, and its env id is a label, so
 * that environments defined by code need not exist in the process that learns.
 */
import { deriveSeed, Rng } from "../core/rng.ts";
import type { EnvSpaces } from "../core/types.ts";
import {
  type ActorCriticEngine,
  FusedActorCritic,
  initParameters,
  type NetworkSpec,
  type ParameterLayout,
  parameterLayout,
} from "../nn/actor-critic.ts";
import { Arena } from "../nn/arena.ts";
import { type BackendName, initBackend, parseBackendName } from "../nn/backend.ts";
import type { Gemm } from "../nn/gemm.ts";
import { type TensorSlice, tensorSlices } from "../nn/tensors.ts";
import { type Hyperparameters, validateHyperparameters } from "./hyperparameters.ts";
import { Learner, type UpdateStats } from "./learner.ts";
import { type GemmName, loadGemm, networkSpecOf } from "./network.ts";
import { type NormalizationState, normalizationSettings, RunningNormalization } from "./normalize.ts";
import type { Rollout, RolloutCollectorState } from "./rollout.ts";

export type EngineName = "fused" | "tfjs";

export interface LearnerOptions {
  /** The run's env: a label here (the learner makes no env). */
  envId: string;
  config: Hyperparameters;
  /** The spaces of one sub-env of the run's env. */
  spaces: EnvSpaces;
  /** tfjs backend (default: PROXIMA_BACKEND or "wasm"). */
  backend?: string;
  /** "fused" (default on wasm/cpu): hand-written kernel; "tfjs" (default on tensorflow/webgpu): tfjs autograd. */
  engine?: EngineName;
  /** Matrix products of the fused kernel (default "wasm" when available), by name or given. */
  gemm?: GemmName | Gemm;
}

/** Metrics of one iteration, under CleanRL's TensorBoard keys. */
export interface IterationMetrics {
  iteration: number;
  global_step: number;
  "charts/episodic_return": number | null;
  "charts/episodic_length": number | null;
  "charts/episodes": number;
  "charts/SPS": number;
  "charts/learning_rate": number;
  "charts/clip_coef": number;
  "losses/value_loss": number;
  "losses/policy_loss": number;
  "losses/entropy": number;
  "losses/old_approx_kl": number;
  "losses/approx_kl": number;
  "losses/clipfrac": number;
  "losses/explained_variance": number;
  /** Wall-time breakdown of the iteration, seconds. */
  "time/env": number;
  "time/inference": number;
  "time/gae": number;
  "time/update": number;
}

/** Keys whose values depend on wall time, excluded from reproducibility comparisons. */
export const WALL_TIME_KEYS = [
  "charts/SPS",
  "time/env",
  "time/inference",
  "time/gae",
  "time/update",
] as const;

export interface PolicyWeights {
  version: number;
  tensors: { name: string; shape: number[]; data: Float32Array }[];
}

/** Everything a checkpoint holds, in memory (see checkpoint.ts for the on-disk format). */
export interface TrainerState {
  envId: string;
  config: Hyperparameters;
  params: Float32Array;
  adam: { step: number; m: Float32Array; v: Float32Array };
  rng: { collector: RolloutCollectorState; learner: ReturnType<Rng["getState"]> };
  counters: { globalStep: number; iteration: number; elapsedSeconds: number };
  tensors: TensorSlice[];
  /** Observation/reward normalisation statistics; absent in older checkpoints (no normalisation). */
  normalization?: NormalizationState;
}

export class PPOLearner {
  readonly envId: string;
  readonly config: Hyperparameters;
  readonly backend: BackendName;
  readonly engine: ActorCriticEngine;
  readonly layout: ParameterLayout;
  readonly spec: NetworkSpec;
  readonly numIterations: number;
  /** The GEMM of the fused kernel, for the networks that act with this learner's policy. */
  readonly gemm: Gemm;
  /** Observation/reward statistics (rl/ppo/normalize.ts); null when the run normalises nothing. */
  readonly normalization: RunningNormalization | null;
  private readonly update: Learner;
  private readonly rng: Rng;
  globalStep = 0;
  iteration = 0;
  /** Training wall time so far, carried across checkpoints (for SPS). */
  elapsedSeconds = 0;
  /** Version of the current policy weights, raised by every update; the first policy is version 1. */
  private version = 1;

  private constructor(
    options: LearnerOptions,
    backend: BackendName,
    engineName: EngineName,
    gemm: Gemm,
    tfjsEngine: ActorCriticEngine | null,
  ) {
    const config = validateHyperparameters(options.config);
    this.envId = options.envId;
    this.config = config;
    this.backend = backend;
    this.gemm = gemm;
    this.spec = networkSpecOf(options.spaces, config);
    this.layout = parameterLayout(this.spec);
    const batch = config.numEnvs * config.numSteps;
    const minibatch = batch / config.numMinibatches;
    const obsDim = this.spec.obsDim;
    const actDim = this.spec.action.kind === "discrete" ? 1 : this.spec.action.dim;
    this.rng = new Rng(deriveSeed(config.seed, 2));
    const { value } = Arena.build((alloc) => {
      const fused = new FusedActorCritic(this.spec, Math.max(minibatch, Math.min(batch, 4096)), alloc, gemm);
      const engine = engineName === "fused" ? fused : (tfjsEngine as ActorCriticEngine);
      return {
        engine,
        update: new Learner(config, engine, this.layout.size, obsDim, actDim, this.rng, alloc),
      };
    });
    this.engine = value.engine;
    this.update = value.update;
    this.numIterations = Math.floor(config.totalTimesteps / batch);
    initParameters(this.layout, this.update.params, new Rng(deriveSeed(config.seed, 0)), {
      orthoInit: config.orthoInit ?? true,
      logStdInit: config.logStdInit ?? 0,
    });
    const normalization = normalizationSettings(config);
    this.normalization = normalization && new RunningNormalization(obsDim, normalization);
  }

  static async create(options: LearnerOptions): Promise<PPOLearner> {
    const backend = parseBackendName(options.backend);
    const engineName: EngineName =
      options.engine ?? (backend === "wasm" || backend === "cpu" ? "fused" : "tfjs");
    const gemm = await loadGemm(options.gemm);
    let tfjsEngine: ActorCriticEngine | null = null;
    if (engineName === "tfjs") {
      await initBackend(backend);
      const { TfjsActorCritic } = await import("../nn/tfjs-actor-critic.ts");
      tfjsEngine = new TfjsActorCritic(
        networkSpecOf(options.spaces, validateHyperparameters(options.config)),
      );
    }
    return new PPOLearner(options, backend, engineName, gemm, tfjsEngine);
  }

  /** A learner continuing from a checkpoint's state (same config, RNG stream, counters and statistics). */
  static async fromState(
    state: TrainerState,
    options: Omit<LearnerOptions, "envId" | "config">,
  ): Promise<PPOLearner> {
    const learner = await PPOLearner.create({ ...options, envId: state.envId, config: state.config });
    learner.setState(state);
    return learner;
  }

  get done(): boolean {
    return this.iteration >= this.numIterations;
  }

  /** Every parameter θ (the learner's own array: read it, never write it). */
  get params(): Float32Array {
    return this.update.params;
  }

  /** The policy part of θ (actor and log-std), the weights env runners act with: a view, not a copy. */
  get policy(): Float32Array {
    return this.update.params.subarray(0, this.layout.policySize);
  }

  get weightsVersion(): number {
    return this.version;
  }

  /**
   * The normalisation statistics the next rollout is normalised with (sent to env runners with the
   * weights, and frozen for evaluation); null when the run normalises nothing.
   */
  normalizationState(): NormalizationState | null {
    return this.normalization?.getState() ?? null;
  }

  /** Learning rate and clip coefficient of iteration `it` (1-based), CleanRL's linear annealing. */
  schedule(it: number): { learningRate: number; clipCoef: number } {
    const frac = 1.0 - (it - 1.0) / this.numIterations;
    return {
      learningRate: this.config.annealLr ? frac * this.config.learningRate : this.config.learningRate,
      clipCoef: this.config.annealClip ? frac * this.config.clipCoef : this.config.clipCoef,
    };
  }

  /**
   * One PPO update on a rollout; advances the counters and the weights version. `started` is when
   * the iteration began (its collection included), for SPS. With `interrupted` (asked before each
   * minibatch, see Learner.learn) the update may stop part-way: it then throws UpdateInterruptedError
   * and leaves the learner exactly as it was before the call.
   */
  learn(rollout: Rollout, started = performance.now(), interrupted?: () => boolean): IterationMetrics {
    const it = this.iteration + 1;
    const { learningRate, clipCoef } = this.schedule(it);
    const stats = interrupted
      ? this.undoableUpdate(rollout, learningRate, clipCoef, interrupted)
      : this.update.learn(rollout, learningRate, clipCoef);
    // Once per iteration, after the update that used the frozen statistics (rl/ppo/normalize.ts).
    this.normalization?.absorb(rollout.normalization);
    this.iteration = it;
    this.globalStep += rollout.numSteps * rollout.numEnvs;
    this.version++;
    this.elapsedSeconds += (performance.now() - started) / 1000;
    const eps = rollout.episodes;
    const mean = (f: (e: { return: number; length: number }) => number): number | null =>
      eps.length === 0 ? null : eps.reduce((s, e) => s + f(e), 0) / eps.length;
    return {
      iteration: it,
      global_step: this.globalStep,
      "charts/episodic_return": mean((e) => e.return),
      "charts/episodic_length": mean((e) => e.length),
      "charts/episodes": eps.length,
      "charts/SPS": Math.floor(this.globalStep / Math.max(this.elapsedSeconds, 1e-9)),
      "charts/learning_rate": learningRate,
      "charts/clip_coef": clipCoef,
      "losses/value_loss": stats.v_loss,
      "losses/policy_loss": stats.pg_loss,
      "losses/entropy": stats.entropy,
      "losses/old_approx_kl": stats.old_approx_kl,
      "losses/approx_kl": stats.approx_kl,
      "losses/clipfrac": stats.clipfracs,
      "losses/explained_variance": stats.explained_variance,
      "time/env": rollout.envSeconds,
      "time/inference": rollout.inferenceSeconds,
      "time/gae": stats.gaeSeconds,
      "time/update": stats.updateSeconds,
    };
  }

  /**
   * Learner.learn that undoes itself when interrupted: θ, Adam's moments and step, and the shuffling
   * RNG are copied first and put back (the counters and statistics move only after the update).
   */
  private undoableUpdate(
    rollout: Rollout,
    learningRate: number,
    clipCoef: number,
    interrupted: () => boolean,
  ): UpdateStats {
    const opt = this.update.optimizer;
    const params = this.update.params.slice();
    const { step } = opt;
    const m = opt.m.slice();
    const v = opt.v.slice();
    const rng = this.rng.getState();
    try {
      return this.update.learn(rollout, learningRate, clipCoef, interrupted);
    } catch (err) {
      this.update.params.set(params);
      opt.step = step;
      opt.m.set(m);
      opt.v.set(v);
      this.rng.setState(rng);
      throw err;
    }
  }

  /** The policy as named tensors in the tfjs layout (rl/nn/tensors.ts), copies. */
  getPolicyWeights(): PolicyWeights {
    const p = this.update.params;
    return {
      version: this.version,
      tensors: tensorSlices(this.layout)
        .filter((s) => s.offset < this.layout.policySize)
        .map((s) => ({ name: s.name, shape: s.shape, data: p.slice(s.offset, s.offset + s.size) })),
    };
  }

  /** Loads policy weights (the rest of θ, Adam and the counters stay). */
  setPolicyWeights(w: PolicyWeights): void {
    const flat = new Float32Array(this.layout.policySize);
    const byName = new Map(w.tensors.map((t) => [t.name, t]));
    for (const s of tensorSlices(this.layout).filter((s) => s.offset < this.layout.policySize)) {
      const t = byName.get(s.name);
      if (!t || t.data.length !== s.size)
        throw new RangeError(`policy weights lack tensor ${s.name} of ${s.size} floats`);
      flat.set(t.data, s.offset);
    }
    this.update.params.set(flat);
    this.version = w.version;
  }

  /**
   * Everything a checkpoint holds. The learner has no env: `collector` is the state of whatever
   * collected for it (the local loop's collector, or the run's env runners merged in global env
   * order), so that every checkpoint is complete and loads into either.
   */
  getState(collector: RolloutCollectorState): TrainerState {
    const opt = this.update.optimizer;
    return {
      envId: this.envId,
      config: this.config,
      params: this.update.params.slice(),
      adam: { step: opt.step, m: opt.m.slice(), v: opt.v.slice() },
      rng: {
        collector: { ...collector, policyVersion: this.version },
        learner: this.rng.getState(),
      },
      counters: {
        globalStep: this.globalStep,
        iteration: this.iteration,
        elapsedSeconds: this.elapsedSeconds,
      },
      tensors: tensorSlices(this.layout),
      ...(this.normalization ? { normalization: this.normalization.getState() } : {}),
    };
  }

  /** Restores the learner's part of a checkpoint (its collector part is the collectors' to restore). */
  setState(state: TrainerState): void {
    if (state.envId !== this.envId)
      throw new Error(`state is for ${state.envId}, trainer is for ${this.envId}`);
    if (state.params.length !== this.layout.size) {
      throw new RangeError(
        `state has ${state.params.length} parameters, the network has ${this.layout.size}`,
      );
    }
    this.update.params.set(state.params);
    const opt = this.update.optimizer;
    opt.step = state.adam.step;
    opt.m.set(state.adam.m);
    opt.v.set(state.adam.v);
    this.rng.setState(state.rng.learner);
    this.globalStep = state.counters.globalStep;
    this.iteration = state.counters.iteration;
    this.elapsedSeconds = state.counters.elapsedSeconds;
    // A checkpoint from before normalisation has no statistics: its config normalises nothing.
    if (state.normalization) {
      if (!this.normalization)
        throw new Error(
          "the checkpoint holds normalisation statistics but its configuration normalises nothing",
        );
      this.normalization.setState(state.normalization);
    }
    this.version = state.rng.collector.policyVersion;
  }

  dispose(): void {
    if (this.engine.name === "tfjs") this.engine.dispose();
  }
}
