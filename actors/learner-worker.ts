/**
 * The worker thread of a LearnerThread (actors/learner-thread.ts): it hosts one run's RunLearner, so
 * that the learner's initialisation, updates, checkpoints and the evaluation of the final policy (and
 * the WebAssembly kernel they run on) never hold the event loop of the process that serves requests
 * and renews leases. Messages: actors/learner-protocol.ts. It answers one request at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { PolicyMessage } from "./env-runner.ts";
import type { RunLearner as RunLearnerType } from "./learner.ts";
import {
  type LearnerInit,
  type LearnerProgress,
  type LearnerReply,
  type LearnerRequest,
  transferables,
} from "./learner-protocol.ts";
import { LEARNER_NICE, lowerThreadPriority } from "./thread-entry.ts";

// Before the learner's modules load: compiling them (the PPO code, the kernel, the environments) is
// most of the CPU a short run's thread uses, and at the process's priority it competed with the
// requests (a 6-minute soak's profile: ~0.3 s of each learner thread's ~0.5 s). The imports above
// are Node's and types.
lowerThreadPriority(LEARNER_NICE);
const { limitArenaBytes } = await import("../rl/nn/arena.ts");
const { UpdateInterruptedError } = await import("../rl/ppo/learner.ts");
const { evaluateTrainedPolicy } = await import("./evaluation.ts");
const { RunLearner } = await import("./learner.ts");
type RunLearner = RunLearnerType;

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
