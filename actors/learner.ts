import type { EnvSpaces } from "../rl/core/types.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../rl/ppo/checkpoint.ts";
import { mergeCollectorStates, mergeRollouts, runnerCollectorState } from "../rl/ppo/distributed.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { NormalizationState } from "../rl/ppo/normalize.ts";
import { type IterationMetrics, PPOLearner } from "../rl/ppo/ppo-learner.ts";
import type { Rollout, RolloutCollectorState } from "../rl/ppo/rollout.ts";
import type { PolicyMessage } from "./env-runner.ts";

/**
 * The Learner beside a TrainingRun actor (RLlib's Learner): rl/'s PPOLearner (values, GAE and the PPO
 * update; no env here: the env may be defined by code that runs only in the workers' sandboxes), on
 * the runners' rollouts merged into one batch, plus the weights to broadcast and the checkpoint bytes,
 * into which the runners' merged collector state goes so that a checkpoint blob stays a complete
 * single-process checkpoint.
 */
export class RunLearner {
  /**
   * @param restored the collector state of the whole run (global env order) in the checkpoint it
   *   was restored from: the runners' states are cut from it, whatever the split they were saved by.
   */
  private constructor(
    private readonly learner: PPOLearner,
    readonly restored?: RolloutCollectorState,
  ) {}

  /** `spaces` default to those of the built-in env `envId`. */
  static async create(
    envId: string,
    config: Hyperparameters,
    checkpoint?: Uint8Array,
    spaces: EnvSpaces = builtinSpaces(envId),
  ): Promise<RunLearner> {
    if (checkpoint) {
      const state = decodeCheckpoint(checkpoint);
      return new RunLearner(await PPOLearner.fromState(state, { spaces }), state.rng.collector);
    }
    return new RunLearner(await PPOLearner.create({ envId, config, spaces }));
  }

  /**
   * The restored state of the runner that steps the run's envs firstEnv … firstEnv+count−1; none
   * when the run starts afresh (the runner then resets its envs from the seed).
   */
  runnerState(firstEnv: number, count: number): RolloutCollectorState | undefined {
    return this.restored && runnerCollectorState(this.restored, firstEnv, count);
  }

  get iteration(): number {
    return this.learner.iteration;
  }

  get globalStep(): number {
    return this.learner.globalStep;
  }

  get numIterations(): number {
    return this.learner.numIterations;
  }

  get done(): boolean {
    return this.learner.done;
  }

  /** The normalisation statistics now (a copy); null when the run normalises nothing. */
  normalizationState(): NormalizationState | null {
    return this.learner.normalizationState();
  }

  /** Every parameter θ (the learner's own array: read, never written). */
  get params(): Float32Array {
    return this.learner.params;
  }

  /** The current policy (actor and log-std), a fresh copy for the wire. */
  weights(): PolicyMessage {
    const normalization = this.learner.normalizationState();
    return {
      version: this.learner.weightsVersion,
      policy: this.learner.policy.slice(),
      ...(normalization ? { normalization } : {}),
    };
  }

  /**
   * One PPO update on the runners' rollouts (in runner order); `started` is the iteration's start.
   * With `interrupted`, the update may stop before a minibatch and undo itself (UpdateInterruptedError).
   */
  learn(rollouts: readonly Rollout[], started: number, interrupted?: () => boolean): IterationMetrics {
    return this.learner.learn(mergeRollouts(rollouts), started, interrupted);
  }

  /** The single-blob checkpoint (rl's `encodeCheckpoint`) with the runners' merged collector state. */
  checkpoint(runnerStates: readonly RolloutCollectorState[]): Uint8Array {
    return encodeCheckpoint(this.learner.getState(mergeCollectorStates(runnerStates)));
  }

  dispose(): void {
    this.learner.dispose();
  }
}
