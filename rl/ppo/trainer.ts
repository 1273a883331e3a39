/**
 * PPOTrainer: the local, single-process PPO loop (CleanRL's `ppo.py` main loop), as a distributed
 * run with one env runner of all the run's envs: a RolloutCollector (rl/ppo/distributed.ts's runner
 * 0, over `config.numEnvs` envs) that acts with the weights and normalisation statistics of a
 * PPOLearner (rl/ppo/ppo-learner.ts), which learns from its rollouts. `proxima train` and the benches
 * run it; a distributed run's host uses the PPOLearner alone.
 */
import { builtinSpaces } from "../envs/registry.ts";
import { type AsyncVectorEnv, VectorEnv } from "../envs/vector.ts";
import { createRunnerCollector } from "./distributed.ts";
import { type EvaluationResult, evaluatePolicy } from "./evaluation.ts";
import { validateHyperparameters } from "./hyperparameters.ts";
import { spacesOf } from "./network.ts";
import { type IterationMetrics, type LearnerOptions, PPOLearner, type TrainerState } from "./ppo-learner.ts";
import type { Rollout, RolloutCollector } from "./rollout.ts";

// actors/training-run.ts still imports the iteration's metrics from here.

export interface TrainerOptions extends Omit<LearnerOptions, "spaces"> {
  /**
   * The env to collect from, of `config.numEnvs` sub-envs, instead of the registered `envId`'s: one
   * that steps elsewhere (an environment defined by code, in a sandbox). The caller closes it.
   */
  env?: VectorEnv | AsyncVectorEnv;
}

/**
 * The collector acts with the weights and statistics the learner had after its last update through
 * this loop (`learn`, `iterate`): read the learner freely, update it through the loop.
 */
export class PPOTrainer {
  private constructor(
    readonly learner: PPOLearner,
    readonly collector: RolloutCollector,
    /** Made here from the registry (not given): `dispose` closes it. */
    private readonly ownEnv: VectorEnv | null,
  ) {
    this.publish();
  }

  static async create(options: TrainerOptions): Promise<PPOTrainer> {
    const { envId, env } = options;
    const config = validateHyperparameters(options.config);
    if (env && env.numEnvs !== config.numEnvs)
      throw new RangeError(`the env has ${env.numEnvs} sub-envs, the configuration ${config.numEnvs}`);
    const learner = await PPOLearner.create({
      ...options,
      config,
      spaces: env ? spacesOf(env) : builtinSpaces(envId),
    });
    try {
      // Runner 0 of a run of one runner: its envs and action streams are the run's, keyed 0…numEnvs−1.
      const spec = { envId, config, numEnvs: config.numEnvs, index: 0 };
      const collector = await createRunnerCollector(spec, { gemm: learner.gemm, ...(env ? { env } : {}) });
      const own = !env && collector.env instanceof VectorEnv ? collector.env : null;
      return new PPOTrainer(learner, collector, own);
    } catch (err) {
      learner.dispose();
      throw err;
    }
  }

  /** A trainer continuing from a checkpoint's state (same env, config, RNG streams and counters). */
  static async fromState(
    state: TrainerState,
    options: Omit<TrainerOptions, "envId" | "config"> = {},
  ): Promise<PPOTrainer> {
    const trainer = await PPOTrainer.create({ ...options, envId: state.envId, config: state.config });
    trainer.learner.setState(state);
    await trainer.collector.restore(state.rng.collector);
    trainer.publish();
    return trainer;
  }

  get done(): boolean {
    return this.learner.done;
  }

  /** Sends the learner's policy and statistics to the collector, as a run sends them to its runners. */
  private publish(): void {
    this.collector.setPolicy(this.learner.policy, this.learner.weightsVersion);
    this.collector.setNormalization(this.learner.normalizationState());
  }

  /** One rollout with the current policy (its arrays are reused by the next call). */
  collect(): Rollout {
    return this.collector.collect();
  }

  /** One PPO update on a rollout (PPOLearner.learn), whose new weights the collector then acts with. */
  learn(rollout: Rollout, started = performance.now(), interrupted?: () => boolean): IterationMetrics {
    const metrics = this.learner.learn(rollout, started, interrupted);
    this.publish();
    return metrics;
  }

  /** One full iteration: collect, then learn. */
  async iterate(): Promise<IterationMetrics> {
    if (this.done) throw new Error(`training is complete (${this.learner.numIterations} iterations)`);
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
  evaluate(episodes = 10, seed = this.learner.config.seed + 1_000_000): EvaluationResult {
    const { envId, spec, params, gemm } = this.learner;
    return evaluatePolicy(envId, spec, params, episodes, seed, gemm, this.learner.normalizationState());
  }

  /** Everything a checkpoint holds: the learner's state and the collector's. */
  getState(): TrainerState {
    return this.learner.getState(this.collector.getState());
  }

  dispose(): void {
    this.learner.dispose();
    // A MuJoCo env's data lives in the WebAssembly heap, not JavaScript's.
    this.ownEnv?.close();
  }
}
