/**
 * PPOTrainer: the local, single-process PPO loop (CleanRL's `ppo.py` main loop) built from the two
 * halves a distributed run uses separately — a RolloutCollector (env runner) and a Learner — plus
 * evaluation and the state needed for exact checkpoints.
 */
import type { ReplayEpisode } from "../../contracts/replay.ts";
import { deriveSeed, Rng } from "../core/rng.ts";
import type { EnvSpaces } from "../core/types.ts";
import { builtinSpaces, makeEnv, prepareEnv } from "../envs/registry.ts";
import { recordEpisode } from "../envs/render.ts";
import {
  type AsyncVectorEnv,
  makeVectorEnv,
  VectorEnv,
  type VectorEnvSpaces,
  type VectorStepResult,
} from "../envs/vector.ts";
import {
  type ActionSpec,
  type ActorCriticEngine,
  FusedActorCritic,
  initParameters,
  type NetworkSpec,
  type ParameterLayout,
  parameterLayout,
} from "../nn/actor-critic.ts";
import { Arena } from "../nn/arena.ts";
import { type BackendName, initBackend, parseBackendName } from "../nn/backend.ts";
import { type Gemm, jsGemm } from "../nn/gemm.ts";
import { MlpKernel } from "../nn/mlp.ts";
import { type TensorSlice, tensorSlices } from "../nn/tensors.ts";
import { sdeOptions } from "./gsde.ts";
import { checkActionSpace, type Hyperparameters, validateHyperparameters } from "./hyperparameters.ts";
import { Learner, type UpdateStats } from "./learner.ts";
import {
  type NormalizationState,
  normalizationSettings,
  normalizeObsInto,
  RunningNormalization,
} from "./normalize.ts";
import {
  actionStreams,
  greedyActions,
  type Rollout,
  RolloutCollector,
  type RolloutCollectorState,
} from "./rollout.ts";

export type EngineName = "fused" | "tfjs";
export type GemmName = "js" | "wasm";

export interface TrainerOptions {
  envId: string;
  config: Hyperparameters;
  /**
   * Given: a learner only (RLlib's Learner), for these spaces, with no env and no collector of its
   * own; its rollouts come from env runners elsewhere (a distributed run's host). The env id is
   * then only a label, so that environments defined by code need not exist in this process.
   */
  spaces?: EnvSpaces;
  /**
   * The env to collect from, of `config.numEnvs` sub-envs, instead of the registered `envId`'s: one
   * that steps elsewhere (an environment defined by code, in a sandbox). The caller closes it.
   */
  env?: VectorEnv | AsyncVectorEnv;
  /** tfjs backend (default: PROXIMA_BACKEND or "wasm"). */
  backend?: string;
  /** "fused" (default on wasm/cpu): hand-written kernel; "tfjs" (default on tensorflow/webgpu): tfjs autograd. */
  engine?: EngineName;
  /** Matrix products of the fused kernel (default "wasm" when available). */
  gemm?: GemmName;
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

export interface EvaluationResult {
  returns: number[];
  lengths: number[];
  mean: number;
  std: number;
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

/** The spaces of a vector env's sub-envs. */
export function spacesOf(
  env: Pick<VectorEnvSpaces, "singleObservationSpace" | "singleActionSpace">,
): EnvSpaces {
  return { observationSpace: env.singleObservationSpace, actionSpace: env.singleActionSpace };
}

export function actionSpecOf(spaces: EnvSpaces): ActionSpec {
  const s = spaces.actionSpace;
  return s.kind === "discrete"
    ? { kind: "discrete", n: s.n }
    : { kind: "box", dim: s.low.length, low: s.low, high: s.high };
}

export function networkSpecOf(spaces: EnvSpaces, config: Hyperparameters): NetworkSpec {
  checkActionSpace(config, spaces.actionSpace.kind);
  return {
    obsDim: spaces.observationSpace.low.length,
    action: actionSpecOf(spaces),
    hiddenSizes: config.hiddenSizes,
    activation: config.activation,
    useSde: config.useSde ?? false,
  };
}

async function loadGemm(name: GemmName | undefined): Promise<Gemm> {
  if (name === "js") return jsGemm;
  const { wasmGemm } = await import("../nn/gemm-wasm.ts");
  const gemm = wasmGemm();
  if (gemm) return gemm;
  if (name === "wasm") throw new Error("WebAssembly SIMD is not available in this runtime");
  return jsGemm;
}

export class PPOTrainer {
  readonly envId: string;
  readonly config: Hyperparameters;
  readonly backend: BackendName;
  readonly engine: ActorCriticEngine;
  readonly layout: ParameterLayout;
  readonly spec: NetworkSpec;
  readonly learner: Learner;
  readonly numIterations: number;
  private readonly gemm: Gemm;
  private readonly learnerRng: Rng;
  globalStep = 0;
  iteration = 0;
  /** Training wall time so far, carried across checkpoints (for SPS). */
  elapsedSeconds = 0;
  private policyVersion = 0;
  private readonly ownCollector: RolloutCollector | null;
  /** Made here from the registry (not given): `dispose` closes it. */
  private readonly ownEnv: VectorEnv | null;
  /** Observation/reward statistics (rl/ppo/normalize.ts); null when the run normalises nothing. */
  readonly normalization: RunningNormalization | null;

  private constructor(
    options: TrainerOptions,
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
    const env = options.spaces ? null : (options.env ?? makeVectorEnv(options.envId, config.numEnvs));
    this.ownEnv = env && !options.env && env instanceof VectorEnv ? env : null;
    if (env && env.numEnvs !== config.numEnvs)
      throw new RangeError(`the env has ${env.numEnvs} sub-envs, the configuration ${config.numEnvs}`);
    this.spec = networkSpecOf(options.spaces ?? spacesOf(env!), config);
    this.layout = parameterLayout(this.spec);
    const batch = config.numEnvs * config.numSteps;
    const minibatch = batch / config.numMinibatches;
    const obsDim = this.spec.obsDim;
    const actDim = this.spec.action.kind === "discrete" ? 1 : this.spec.action.dim;
    this.learnerRng = new Rng(deriveSeed(config.seed, 2));
    // One action stream per env, keyed by its global index (here 0…numEnvs−1), as the runners of a
    // distributed run key theirs: so the run does not depend on how its envs are split.
    const actionRngs = actionStreams(config.seed, 0, config.numEnvs);
    const { value } = Arena.build((alloc) => {
      const fused = new FusedActorCritic(this.spec, Math.max(minibatch, Math.min(batch, 4096)), alloc, gemm);
      const engine = engineName === "fused" ? fused : (tfjsEngine as ActorCriticEngine);
      const learner = new Learner(config, engine, this.layout.size, obsDim, actDim, this.learnerRng, alloc);
      const collector =
        env &&
        new RolloutCollector(
          env,
          this.spec.action,
          new MlpKernel(this.layout.actor, config.activation, config.numEnvs, alloc, gemm),
          this.layout.policySize,
          config.numSteps,
          actionRngs,
          alloc,
          sdeOptions(config),
        );
      return { engine, learner, collector };
    });
    this.engine = value.engine;
    this.learner = value.learner;
    this.ownCollector = value.collector;
    this.numIterations = Math.floor(config.totalTimesteps / batch);
    initParameters(this.layout, this.learner.params, new Rng(deriveSeed(config.seed, 0)), {
      orthoInit: config.orthoInit ?? true,
      logStdInit: config.logStdInit ?? 0,
    });
    const normalization = normalizationSettings(config);
    this.normalization = normalization && new RunningNormalization(obsDim, normalization);
    this.ownCollector?.configureNormalization(normalization);
    // An env that steps elsewhere is reset by create(), which may wait for it.
    if (env instanceof VectorEnv) this.ownCollector?.reset(config.seed);
    this.publishPolicy();
  }

  static async create(options: TrainerOptions): Promise<PPOTrainer> {
    // A registered env that needs an engine (MuJoCo) has it loaded before the constructor makes it.
    if (!options.spaces && !options.env) await prepareEnv(options.envId);
    const backend = parseBackendName(options.backend);
    const engineName: EngineName =
      options.engine ?? (backend === "wasm" || backend === "cpu" ? "fused" : "tfjs");
    const gemm = await loadGemm(options.gemm);
    let tfjsEngine: ActorCriticEngine | null = null;
    if (engineName === "tfjs") {
      await initBackend(backend);
      const { TfjsActorCritic } = await import("../nn/tfjs-actor-critic.ts");
      const spaces = options.spaces ?? (options.env ? spacesOf(options.env) : builtinSpaces(options.envId));
      tfjsEngine = new TfjsActorCritic(networkSpecOf(spaces, validateHyperparameters(options.config)));
    }
    const trainer = new PPOTrainer(options, backend, engineName, gemm, tfjsEngine);
    if (trainer.ownCollector && !(trainer.ownCollector.env instanceof VectorEnv))
      await trainer.ownCollector.start(trainer.config.seed);
    return trainer;
  }

  /** A trainer continuing from a checkpoint's state (same env, config, RNG streams and counters). */
  static async fromState(
    state: TrainerState,
    options: Omit<TrainerOptions, "envId" | "config"> = {},
  ): Promise<PPOTrainer> {
    const trainer = await PPOTrainer.create({ ...options, envId: state.envId, config: state.config });
    trainer.setState(state);
    if (trainer.ownCollector && !(trainer.ownCollector.env instanceof VectorEnv))
      await trainer.ownCollector.restore(state.rng.collector);
    return trainer;
  }

  get done(): boolean {
    return this.iteration >= this.numIterations;
  }

  /** The env runner half; a learner-only trainer (`spaces` given) has none. */
  get collector(): RolloutCollector {
    if (!this.ownCollector) throw new Error("this trainer is a learner only: it has no env to collect from");
    return this.ownCollector;
  }

  /** Version of the current policy weights (raised by every update). */
  get weightsVersion(): number {
    return this.policyVersion;
  }

  /** Copies the learner's policy part of θ to the collector, as a new weights version. */
  private publishPolicy(): void {
    this.policyVersion++;
    this.ownCollector?.setPolicy(this.learner.params.subarray(0, this.layout.policySize), this.policyVersion);
    this.ownCollector?.setNormalization(this.normalizationState());
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

  /** The env-runner half: one rollout with the current policy. */
  collect(): Rollout {
    return this.collector.collect();
  }

  /**
   * The learner half: one PPO update on a rollout; advances the counters and publishes new weights.
   * With `interrupted` (asked before each minibatch, see Learner.learn) the update may stop part-way:
   * it then throws UpdateInterruptedError and leaves the trainer exactly as it was before the call.
   */
  learn(rollout: Rollout, started = performance.now(), interrupted?: () => boolean): IterationMetrics {
    const it = this.iteration + 1;
    const { learningRate, clipCoef } = this.schedule(it);
    const stats = interrupted
      ? this.undoableUpdate(rollout, learningRate, clipCoef, interrupted)
      : this.learner.learn(rollout, learningRate, clipCoef);
    // Once per iteration, after the update that used the frozen statistics (rl/ppo/normalize.ts).
    this.normalization?.absorb(rollout.normalization);
    this.iteration = it;
    this.globalStep += rollout.numSteps * rollout.numEnvs;
    this.publishPolicy();
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
    const opt = this.learner.optimizer;
    const params = this.learner.params.slice();
    const { step } = opt;
    const m = opt.m.slice();
    const v = opt.v.slice();
    const rng = this.learnerRng.getState();
    try {
      return this.learner.learn(rollout, learningRate, clipCoef, interrupted);
    } catch (err) {
      this.learner.params.set(params);
      opt.step = step;
      opt.m.set(m);
      opt.v.set(v);
      this.learnerRng.setState(rng);
      throw err;
    }
  }

  /** One full iteration: collect, then learn. */
  async iterate(): Promise<IterationMetrics> {
    if (this.done) throw new Error(`training is complete (${this.numIterations} iterations)`);
    const started = performance.now();
    return this.learn(await this.collector.collectAsync(), started);
  }

  /** Runs the remaining iterations, calling `onIteration` after each. */
  async train(onIteration?: (m: IterationMetrics) => void | Promise<void>): Promise<void> {
    while (!this.done) {
      const m = await this.iterate();
      await onIteration?.(m);
    }
  }

  /**
   * Deterministic-policy evaluation (argmax / clipped mean) on `episodes` fresh envs seeded
   * seed, seed+1, ...: the first episode of each.
   */
  evaluate(episodes = 10, seed = this.config.seed + 1_000_000): EvaluationResult {
    return evaluatePolicy(
      this.envId,
      this.spec,
      this.learner.params,
      episodes,
      seed,
      this.gemm,
      this.normalizationState(),
    );
  }

  getPolicyWeights(): PolicyWeights {
    const p = this.learner.params;
    return {
      version: this.policyVersion,
      tensors: tensorSlices(this.layout)
        .filter((s) => s.offset < this.layout.policySize)
        .map((s) => ({ name: s.name, shape: s.shape, data: p.slice(s.offset, s.offset + s.size) })),
    };
  }

  /** Loads policy weights (e.g. into a collector-only trainer in another process). */
  setPolicyWeights(w: PolicyWeights): void {
    const flat = new Float32Array(this.layout.policySize);
    const byName = new Map(w.tensors.map((t) => [t.name, t]));
    for (const s of tensorSlices(this.layout).filter((s) => s.offset < this.layout.policySize)) {
      const t = byName.get(s.name);
      if (!t || t.data.length !== s.size)
        throw new RangeError(`policy weights lack tensor ${s.name} of ${s.size} floats`);
      flat.set(t.data, s.offset);
    }
    this.learner.params.set(flat);
    this.policyVersion = w.version;
    this.ownCollector?.setPolicy(flat, w.version);
  }

  /**
   * Everything a checkpoint holds. The collector part is this trainer's own collector's state, or, for
   * a learner only, `collector`: the state of the env runners that collected for it.
   */
  getState(collector?: RolloutCollectorState): TrainerState {
    const opt = this.learner.optimizer;
    const collectorState = collector ?? this.collector.getState();
    return {
      envId: this.envId,
      config: this.config,
      params: this.learner.params.slice(),
      adam: { step: opt.step, m: opt.m.slice(), v: opt.v.slice() },
      rng: {
        collector: { ...collectorState, policyVersion: this.policyVersion },
        learner: this.learnerRng.getState(),
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

  setState(state: TrainerState): void {
    if (state.envId !== this.envId)
      throw new Error(`state is for ${state.envId}, trainer is for ${this.envId}`);
    if (state.params.length !== this.layout.size) {
      throw new RangeError(
        `state has ${state.params.length} parameters, the network has ${this.layout.size}`,
      );
    }
    this.learner.params.set(state.params);
    const opt = this.learner.optimizer;
    opt.step = state.adam.step;
    opt.m.set(state.adam.m);
    opt.v.set(state.adam.v);
    this.learnerRng.setState(state.rng.learner);
    // A learner only keeps no env state: the runners restore theirs from the checkpoint. An env that
    // steps elsewhere is restored by fromState, which can wait for it.
    if (this.ownCollector?.env instanceof VectorEnv) this.ownCollector.setState(state.rng.collector);
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
    this.policyVersion = state.rng.collector.policyVersion;
    this.ownCollector?.setPolicy(this.learner.params.subarray(0, this.layout.policySize), this.policyVersion);
    this.ownCollector?.setNormalization(this.normalizationState());
  }

  dispose(): void {
    if (this.engine.name === "tfjs") this.engine.dispose();
    // A MuJoCo env's data lives in the WebAssembly heap, not JavaScript's.
    this.ownEnv?.close();
  }
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
