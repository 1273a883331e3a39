import type { EnvSpaces } from "../rl/core/types.ts";
import { builtinSpaces } from "../rl/envs/registry.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../rl/ppo/checkpoint.ts";
import { mergeCollectorStates, mergeRollouts } from "../rl/ppo/distributed.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { Rollout, RolloutCollectorState } from "../rl/ppo/rollout.ts";
import { type IterationMetrics, PPOTrainer } from "../rl/ppo/trainer.ts";
import type { PolicyMessage } from "./env-runner.ts";

/**
 * The Learner beside a TrainingRun actor (RLlib's Learner): values, GAE and the PPO update of rl/'s
 * PPOTrainer, as a learner only (no env here: the env may be defined by code that runs only in the
 * workers' sandboxes), on the runners' rollouts merged into one batch, plus the weights to broadcast
 * and the checkpoint bytes, into which the runners' merged collector state goes so that a checkpoint
 * blob stays a complete single-process checkpoint.
 */
export class RunLearner {
  private constructor(private readonly trainer: PPOTrainer) {}

  /** `spaces` default to those of the built-in env `envId`. */
  static async create(
    envId: string,
    config: Hyperparameters,
    checkpoint?: Uint8Array,
    spaces: EnvSpaces = builtinSpaces(envId),
  ): Promise<RunLearner> {
    if (checkpoint)
      return new RunLearner(await PPOTrainer.fromState(decodeCheckpoint(checkpoint), { spaces }));
    return new RunLearner(await PPOTrainer.create({ envId, config, spaces }));
  }

  get iteration(): number {
    return this.trainer.iteration;
  }

  get globalStep(): number {
    return this.trainer.globalStep;
  }

  get numIterations(): number {
    return this.trainer.numIterations;
  }

  get done(): boolean {
    return this.trainer.done;
  }

  /** Every parameter θ (the trainer's own array: read, never written). */
  get params(): Float32Array {
    return this.trainer.learner.params;
  }

  /** The current policy (actor and log-std), a fresh copy for the wire. */
  weights(): PolicyMessage {
    const size = this.trainer.layout.policySize;
    return {
      version: this.trainer.weightsVersion,
      policy: this.trainer.learner.params.slice(0, size),
    };
  }

  /** One PPO update on the runners' rollouts (in runner order); `started` is the iteration's start. */
  learn(rollouts: readonly Rollout[], started: number): IterationMetrics {
    return this.trainer.learn(mergeRollouts(rollouts), started);
  }

  /** The single-blob checkpoint (rl's `encodeCheckpoint`) with the runners' merged collector state. */
  checkpoint(runnerStates: readonly RolloutCollectorState[]): Uint8Array {
    return encodeCheckpoint(this.trainer.getState(mergeCollectorStates(runnerStates)));
  }

  dispose(): void {
    this.trainer.dispose();
  }
}
