/**
 * The worker thread of a LearnerThread (actors/learner-thread.ts): it hosts one run's RunLearner, so
 * that the learner's initialisation, updates, checkpoints and the evaluation of the final policy (and
 * the WebAssembly kernel they run on) never hold the event loop of the process that serves requests
 * and renews leases. Messages: actors/learner-protocol.ts. It answers one request at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import { limitArenaBytes } from "../rl/nn/arena.ts";
import { UpdateInterruptedError } from "../rl/ppo/learner.ts";
import type { PolicyMessage } from "./env-runner.ts";
import { evaluateTrainedPolicy } from "./evaluation.ts";
import { RunLearner } from "./learner.ts";
import {
  type LearnerInit,
  type LearnerProgress,
  type LearnerReply,
  type LearnerRequest,
  transferables,
} from "./learner-protocol.ts";
import { lowerThreadPriority } from "./thread-entry.ts";

/**
 * The niceness of a learner thread: under CPU contention the kernel's scheduler gives the threads that
 * serve requests and renew leases (nice 0) about ten times the learner's share (CFS weights 1024 vs
 * 110), so a busy learner slows down before the API does.
 */
const LEARNER_NICE = 10;

const port = parentPort;
if (!port) throw new Error("actors/learner-worker.ts runs only as a worker thread");
const init = workerData as LearnerInit;
const flag = new Int32Array(init.interrupt);
const interrupted = () => Atomics.load(flag, 0) !== 0;

function send(reply: LearnerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(reply, transfer);
}

function failure(err: unknown): { name: string; message: string } {
  return err instanceof Error
    ? { name: err.name, message: err.message }
    : { name: "Error", message: String(err) };
}

function progress(learner: RunLearner): LearnerProgress {
  return {
    iteration: learner.iteration,
    globalStep: learner.globalStep,
    numIterations: learner.numIterations,
  };
}

function weightsTransfer(w: PolicyMessage): ArrayBuffer[] {
  return transferables([w.policy]);
}

async function handle(learner: RunLearner, req: LearnerRequest): Promise<void> {
  switch (req.kind) {
    case "learn": {
      if (interrupted()) return send({ kind: "interrupted", id: req.id });
      // The iteration's start on this thread's clock (performance.now() counts from each thread's origin).
      const started = req.startedAt - performance.timeOrigin;
      try {
        const metrics = learner.learn(req.rollouts, started, interrupted);
        const weights = learner.weights();
        return send(
          { kind: "learned", id: req.id, metrics, progress: progress(learner), weights },
          weightsTransfer(weights),
        );
      } catch (err) {
        if (err instanceof UpdateInterruptedError) return send({ kind: "interrupted", id: req.id });
        throw err;
      }
    }
    case "checkpoint": {
      const bytes = learner.checkpoint(req.runnerStates);
      return send({ kind: "checkpoint", id: req.id, bytes }, transferables([bytes]));
    }
    case "evaluate": {
      const { envId, config } = init;
      const evaluation = await evaluateTrainedPolicy(envId, config, learner.params, {
        episodes: req.episodes,
        seed: req.seed,
        normalization: learner.normalizationState(),
        ...(req.codeEnv ? { codeEnv: req.codeEnv } : {}),
      });
      return send({ kind: "evaluated", id: req.id, evaluation });
    }
  }
}

async function main(): Promise<void> {
  lowerThreadPriority(LEARNER_NICE);
  limitArenaBytes(init.arenaLimitBytes);
  let learner: RunLearner;
  try {
    learner = await RunLearner.create(init.envId, init.config, init.checkpoint, init.spaces);
  } catch (err) {
    return send({ kind: "failed", error: failure(err) });
  }
  // One request at a time, in order, though `evaluate` awaits an env in a sandbox process.
  let queue = Promise.resolve();
  port!.on("message", (req: LearnerRequest) => {
    queue = queue.then(() =>
      handle(learner, req).catch((err: unknown) => send({ kind: "failed", id: req.id, error: failure(err) })),
    );
  });
  const weights = learner.weights();
  send(
    {
      kind: "ready",
      progress: progress(learner),
      weights,
      ...(learner.restored ? { restored: learner.restored } : {}),
    },
    weightsTransfer(weights),
  );
}

void main();
