/**
 * The messages between a TrainingRun's LearnerThread (on the runs process's event loop) and the
 * worker thread that hosts its RunLearner (actors/learner-worker.ts): the one place that defines them.
 * Big arrays (rollouts, weights, checkpoint bytes) cross as typed arrays in the transfer list, moved,
 * not copied and never as JSON (`transferables`); the rest is structured-cloned.
 */

import { isMarkedAsUntransferable } from "node:worker_threads";
import type { EnvSpaces } from "../rl/core/types.ts";
import type { CodeEnvDefinition } from "../rl/envs/code-env.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { IterationMetrics } from "../rl/ppo/ppo-learner.ts";
import type { Rollout, RolloutCollectorState } from "../rl/ppo/rollout.ts";
import type { PolicyMessage } from "./env-runner.ts";
import type { PolicyEvaluation } from "./evaluation.ts";

/** The worker's `workerData`: what it builds its learner from. */
export interface LearnerInit {
  envId: string;
  config: Hyperparameters;
  spaces: EnvSpaces;
  /** The checkpoint blob the run continues from; absent: a fresh run. */
  checkpoint?: Uint8Array;
  /**
   * One Int32 over shared memory, read between minibatches: non-zero asks the update in progress to
   * stop and undo itself (a stop or drain of the run), answered `interrupted`. Never reset.
   */
  interrupt: SharedArrayBuffer;
  /** Bytes the learner's arenas (θ, gradients, Adam, activations, evaluation) may reserve in all. */
  arenaLimitBytes: number;
}

/** Where the learner stands after its last message (the actor reads these without a round trip). */
export interface LearnerProgress {
  iteration: number;
  globalStep: number;
  numIterations: number;
}

/** Requests, one at a time (the actor's mailbox serialises them); `id` pairs a request with its answer. */
export type LearnerRequest =
  | {
      kind: "learn";
      id: number;
      /** The runners' rollouts in runner order (merged in the worker). */
      rollouts: Rollout[];
      /** When the iteration began, `performance.timeOrigin + performance.now()` (threads' clocks differ). */
      startedAt: number;
    }
  | { kind: "checkpoint"; id: number; runnerStates: RolloutCollectorState[] }
  | {
      kind: "evaluate";
      id: number;
      episodes: number;
      seed: number;
      codeEnv?: CodeEnvDefinition;
    };

export type LearnerReply =
  | {
      kind: "ready";
      progress: LearnerProgress;
      weights: PolicyMessage;
      /** The whole run's collector state in the checkpoint it was restored from (runners' states are cut from it). */
      restored?: RolloutCollectorState;
    }
  | {
      kind: "learned";
      id: number;
      metrics: IterationMetrics;
      progress: LearnerProgress;
      weights: PolicyMessage;
    }
  /** The update stopped at the interrupt flag and undid itself: the learner is as before the request. */
  | { kind: "interrupted"; id: number }
  | { kind: "checkpoint"; id: number; bytes: Uint8Array }
  | { kind: "evaluated"; id: number; evaluation: PolicyEvaluation }
  /** The request (or, without `id`, the learner's construction) threw. */
  | { kind: "failed"; id?: number; error: { name: string; message: string } };

type Typed = { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };

/**
 * The buffers of `arrays` that may be moved to the other thread: each wholly owned by one array (a view
 * into a larger buffer, such as a decoded message's, or Node's Buffer pool, is copied instead), once.
 */
export function transferables(arrays: Iterable<Typed | undefined | null>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (!a || !(a.buffer instanceof ArrayBuffer)) continue;
    if (a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) continue;
    if (isMarkedAsUntransferable(a.buffer)) continue;
    out.add(a.buffer);
  }
  return [...out];
}

/** The typed arrays of a rollout (its episodes and moments are small: cloned). */
export function rolloutArrays(r: Rollout): Typed[] {
  return [
    r.obs,
    r.actions,
    r.logprobs,
    r.rewards,
    r.terminated,
    r.truncated,
    r.nextObs,
    r.truncatedIndex,
    r.truncatedObs,
  ];
}
