import type { AsyncVectorEnv, VectorEnv } from "../rl/envs/vector.ts";
import {
  copyRollout,
  createRunnerCollector,
  type EnvRunnerSpec,
  releaseRunnerCollector,
} from "../rl/ppo/distributed.ts";
import type { NormalizationState } from "../rl/ppo/normalize.ts";
import type { Rollout, RolloutCollector, RolloutCollectorState } from "../rl/ppo/rollout.ts";

/** Policy weights as they travel to runners: the policy part of θ, flat, with its version. */
export interface PolicyMessage {
  version: number;
  policy: Float32Array;
  /** The learner's normalisation statistics, frozen for this rollout; absent when the run normalises nothing. */
  normalization?: NormalizationState | null;
}

/** What a runner returns per iteration: its trajectories and its state after them (for checkpoints). */
export interface RunnerSample {
  rollout: Rollout;
  state: RolloutCollectorState;
}

/**
 * The EnvRunner actor (RLlib's EnvRunner), hosted by a worker node: a vector env and the policy it was
 * last sent. It holds no critic and no optimizer; its env and RNG state persist across iterations,
 * as in a single-process PPO loop, and can be restored from a checkpoint. Its env is the registered
 * one of the run's env id, or one given by the host (an environment defined by code, stepped in a
 * sandbox process), which `close` ends.
 */
export class EnvRunner {
  /** The sample in progress, if any. */
  private sampling: Promise<unknown> | null = null;
  private closed = false;

  private constructor(
    readonly spec: EnvRunnerSpec,
    private readonly collector: RolloutCollector,
  ) {}

  static async create(
    spec: EnvRunnerSpec,
    state?: RolloutCollectorState,
    env?: VectorEnv | AsyncVectorEnv,
  ): Promise<EnvRunner> {
    const runner = new EnvRunner(spec, await createRunnerCollector(spec, { env }));
    if (state) await runner.collector.restore(state);
    return runner;
  }

  /** Steps numSteps × numEnvs transitions with the given weights; the arrays returned are the caller's. */
  async sample(weights: PolicyMessage): Promise<RunnerSample> {
    if (this.closed) throw new Error("this env runner is closed");
    // One sample at a time: a second concurrent request would interleave env steps and break determinism.
    if (this.sampling) throw new Error("this env runner is already sampling");
    const sampled = this.collect(weights);
    this.sampling = sampled;
    try {
      return await sampled;
    } finally {
      this.sampling = null;
    }
  }

  private async collect(weights: PolicyMessage): Promise<RunnerSample> {
    this.collector.setPolicy(weights.policy, weights.version);
    this.collector.setNormalization(weights.normalization);
    const rollout = copyRollout(await this.collector.collectAsync());
    return { rollout, state: this.collector.getState() };
  }

  /**
   * Ends the env's process, if it has one, or frees an in-process env's MuJoCo data, and gives the
   * policy's buffers to the next runner of this thread (after a sample in progress has ended: it
   * writes into them). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sampling?.catch(() => undefined);
    releaseRunnerCollector(this.collector);
    const env = this.collector.env;
    if ("close" in env) await env.close();
  }
}
