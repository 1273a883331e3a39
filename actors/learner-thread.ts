import { Worker } from "node:worker_threads";
import type { EnvSpaces } from "../rl/core/types.ts";
import type { CodeEnvDefinition } from "../rl/envs/code-env.ts";
import { runnerCollectorState } from "../rl/ppo/distributed.ts";
import type { Hyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { IterationMetrics } from "../rl/ppo/ppo-learner.ts";
import type { Rollout, RolloutCollectorState } from "../rl/ppo/rollout.ts";
import type { PolicyMessage } from "./env-runner.ts";
import type { PolicyEvaluation } from "./evaluation.ts";
import {
  type LearnerInit,
  type LearnerProgress,
  type LearnerReply,
  type LearnerRequest,
  rolloutArrays,
  transferables,
} from "./learner-protocol.ts";
import { workerEntry } from "./thread-entry.ts";

const WORKER = workerEntry("learner-worker");

/**
 * The run's learner failed: its thread threw, died, or exceeded its memory. The run fails with this
 * message (its `failureReason`); the process that hosted it is unharmed.
 */
export class LearnerFailedError extends Error {
  override name = "LearnerFailedError";
}

/** The learner was ended by its owner (`terminate`) while a request waited: nothing failed. */
export class LearnerTerminatedError extends Error {
  override name = "LearnerTerminatedError";
  constructor() {
    super("the learner thread was terminated");
  }
}

export interface LearnerThreadOptions {
  envId: string;
  config: Hyperparameters;
  spaces: EnvSpaces;
  checkpoint?: Uint8Array;
  /**
   * The learner's memory cap, MiB: its arenas (θ, gradients, Adam's moments, activations) may reserve
   * this much (rl/nn/arena.ts `limitArenaBytes`), and its V8 heap is capped at it too (`resourceLimits`,
   * 64 MiB at least: the learner's code takes about 30).
   */
  memoryMb: number;
}

/**
 * The V8 heap of a learner thread: the cap, but never below what loading the learner's code takes
 * (about 30 MiB from sources); its big buffers are outside this heap, under the arena cap.
 */
const MIN_HEAP_MB = 64;
const heapMb = (memoryMb: number) => Math.max(MIN_HEAP_MB, memoryMb);

type Pending = { resolve: (reply: LearnerReply) => void; reject: (err: Error) => void };

let updatesInProgress = 0;

/**
 * How many PPO updates this process's learner threads are computing right now. Read on the event
 * loop, a value above 0 proves that the loop runs while an update does (a learner on the loop would
 * hold it for the whole update, so nothing could observe the count between its two changes).
 */
export function learnerUpdatesInProgress(): number {
  return updatesInProgress;
}

/**
 * A run's Learner (actors/learner.ts RunLearner) in a worker thread of its own, owned by its
 * TrainingRun actor: every computation of the learner happens there, so a run however heavy delays no
 * request, heartbeat or lease renewal of the process (DESIGN.md, "Iteration" step 4). The same
 * RunLearner runs the same code on the same bytes, so a run's metrics and checkpoints are bit for bit
 * those of the in-process RunLearner (and of PPOTrainer with all envs in one process).
 *
 * Stops. `interrupt()` raises a flag in shared memory that the update reads before each minibatch:
 * the update undoes itself and `learn` answers null, so the run can checkpoint its last finished
 * iteration and stop within one minibatch. `terminate()` ends the thread at once, wherever it is (an
 * initialisation, a minibatch), for when nothing of it is to be kept (a delete, a lost lease).
 */
export class LearnerThread {
  /** Resolves when the learner is built (restored from its checkpoint); rejects as `learn` does. */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private progress: LearnerProgress = { iteration: 0, globalStep: 0, numIterations: 0 };
  private current: PolicyMessage | null = null;
  private restored: RolloutCollectorState | undefined;
  /** Why the thread is gone, once it is: every later request rejects with it. */
  private gone: Error | null = null;
  private terminated = false;
  private readonly memoryMb: number;

  constructor(options: LearnerThreadOptions, resourceLimits?: Worker["resourceLimits"]) {
    this.memoryMb = options.memoryMb;
    const workerData: LearnerInit = {
      envId: options.envId,
      config: options.config,
      spaces: options.spaces,
      interrupt: this.flag.buffer as SharedArrayBuffer,
      arenaLimitBytes: options.memoryMb * 2 ** 20,
      ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    };
    this.worker = new Worker(WORKER.path, {
      workerData,
      ...WORKER.execArgv,
      resourceLimits: resourceLimits ?? { maxOldGenerationSizeMb: heapMb(options.memoryMb) },
      // The learner has nothing to say on stdout; its errors come back as messages.
      stdout: false,
      stderr: false,
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending.set(0, {
        resolve: (reply) => {
          if (reply.kind === "ready") {
            this.progress = reply.progress;
            this.current = reply.weights;
            this.restored = reply.restored;
            resolve();
          } else reject(this.replyError(reply));
        },
        reject,
      });
    });
    // A failure before anyone awaits `ready` must not be an unhandled rejection of the process.
    this.ready.catch(() => undefined);
    this.worker.on("message", (reply: LearnerReply) => this.onReply(reply));
    this.worker.on("error", (err: Error & { code?: string }) => this.onGone(this.deathOf(err)));
    this.worker.on("exit", (code) =>
      this.onGone(
        this.terminated
          ? new LearnerTerminatedError()
          : new LearnerFailedError(`the learner thread exited unexpectedly (code ${code})`),
      ),
    );
  }

  get iteration(): number {
    return this.progress.iteration;
  }

  get globalStep(): number {
    return this.progress.globalStep;
  }

  get numIterations(): number {
    return this.progress.numIterations;
  }

  get done(): boolean {
    return this.progress.iteration >= this.progress.numIterations;
  }

  /** The restored state of the runner that steps envs firstEnv … firstEnv+count−1 (see RunLearner). */
  runnerState(firstEnv: number, count: number): RolloutCollectorState | undefined {
    return this.restored && runnerCollectorState(this.restored, firstEnv, count);
  }

  /** The current policy, as the last answer brought it (the same message for every runner). */
  weights(): PolicyMessage {
    if (!this.current) throw new Error("the learner is not ready");
    return this.current;
  }

  /**
   * One PPO update on the runners' rollouts (moved to the thread: the caller must not use them again);
   * null when it was interrupted (the learner is then as it was before).
   */
  async learn(rollouts: Rollout[], started: number): Promise<IterationMetrics | null> {
    updatesInProgress++;
    const reply = await this.request(
      { kind: "learn", id: 0, rollouts, startedAt: performance.timeOrigin + started },
      transferables(rollouts.flatMap(rolloutArrays)),
    ).finally(() => updatesInProgress--);
    if (reply.kind === "interrupted") return null;
    if (reply.kind !== "learned") throw this.replyError(reply);
    this.progress = reply.progress;
    this.current = reply.weights;
    return reply.metrics;
  }

  /** The single-blob checkpoint (RunLearner.checkpoint) of the last finished iteration. */
  async checkpoint(runnerStates: RolloutCollectorState[]): Promise<Uint8Array> {
    const reply = await this.request({ kind: "checkpoint", id: 0, runnerStates });
    if (reply.kind !== "checkpoint") throw this.replyError(reply);
    return reply.bytes;
  }

  /** The deterministic evaluation of the current policy (actors/evaluation.ts), in the thread. */
  async evaluate(episodes: number, seed: number, codeEnv?: CodeEnvDefinition): Promise<PolicyEvaluation> {
    const reply = await this.request({
      kind: "evaluate",
      id: 0,
      episodes,
      seed,
      ...(codeEnv ? { codeEnv } : {}),
    });
    if (reply.kind !== "evaluated") throw this.replyError(reply);
    return reply.evaluation;
  }

  /** Asks the update in progress (or the next) to stop before its next minibatch and undo itself. */
  interrupt(): void {
    Atomics.store(this.flag, 0, 1);
  }

  /** Ends the thread now; requests in flight reject with LearnerTerminatedError. */
  async terminate(): Promise<void> {
    if (this.gone) return;
    this.terminated = true;
    await this.worker.terminate();
  }

  private request(req: LearnerRequest, transfer: ArrayBuffer[] = []): Promise<LearnerReply> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise<LearnerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  private onReply(reply: LearnerReply): void {
    const id = reply.kind === "ready" || reply.id === undefined ? 0 : reply.id;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.resolve(reply);
  }

  private onGone(err: Error): void {
    // The first cause wins: an out-of-memory 'error' comes before its 'exit'.
    if (!this.gone) this.gone = err;
    for (const p of this.pending.values()) p.reject(this.gone);
    this.pending.clear();
  }

  private deathOf(err: Error & { code?: string }): Error {
    if (err.code === "ERR_WORKER_OUT_OF_MEMORY")
      return new LearnerFailedError(
        `the learner ran out of memory: its heap may hold ${heapMb(this.memoryMb)} MiB (RUN_LEARNER_MEMORY_MB)`,
        { cause: err },
      );
    return new LearnerFailedError(`the learner thread failed: ${err.message}`, { cause: err });
  }

  private replyError(reply: LearnerReply): Error {
    if (reply.kind !== "failed")
      return new LearnerFailedError(`the learner answered ${reply.kind} unexpectedly`);
    const { name, message } = reply.error;
    if (name === "ArenaLimitError")
      return new LearnerFailedError(
        `the learner exceeded its memory limit: ${message} (RUN_LEARNER_MEMORY_MB)`,
      );
    return new LearnerFailedError(message);
  }
}
