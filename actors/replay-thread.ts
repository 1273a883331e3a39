import { Worker } from "node:worker_threads";
import type { ReplayEpisode } from "../contracts/replay.ts";
import { workerEntry } from "./thread-entry.ts";

const WORKER = workerEntry("replay-worker");

/** What the replay worker is given (its `workerData`). */
export interface ReplayRequest {
  /** rl's single-blob checkpoint (`encodeCheckpoint`). */
  checkpoint: Uint8Array;
  /** The evaluation's seed; the episode's env is reset with seed + episode. */
  seed: number;
  episode: number;
}

export type ReplayReply =
  | { ok: true; episode: ReplayEpisode }
  | { ok: false; error: { name: string; message: string; code?: string } };

/** The replay failed in its thread: `code` is the EnvError's (UNKNOWN_ENV: nothing can draw it). */
export class ReplayFailedError extends Error {
  override name = "ReplayFailedError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A V8 heap for the replay thread: its code (about 30 MiB from sources), a checkpoint and the
 * recorded episode (a 1,000-step Humanoid episode is a few MiB of numbers). MuJoCo's own memory is
 * outside it.
 */
const HEAP_MB = 256;

/**
 * Records one evaluation episode of a checkpoint's policy in a worker thread of its own, which ends
 * with the answer: nothing of the episode (decoding, the engine's load, the steps) runs on the
 * caller's event loop (DESIGN.md: no run delays a request).
 */
export function replayInThread(req: ReplayRequest): Promise<ReplayEpisode> {
  return new Promise<ReplayEpisode>((resolve, reject) => {
    const worker = new Worker(WORKER.path, {
      workerData: req,
      ...WORKER.execArgv,
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
      stdout: false,
      stderr: false,
    });
    let answered = false;
    worker.once("message", (reply: ReplayReply) => {
      answered = true;
      if (reply.ok) resolve(reply.episode);
      else reject(new ReplayFailedError(reply.error.message, reply.error.code));
      void worker.terminate();
    });
    worker.once("error", (err) => {
      answered = true;
      reject(new ReplayFailedError(`the replay thread failed: ${err.message}`));
    });
    worker.once("exit", (code) => {
      if (!answered)
        reject(new ReplayFailedError(`the replay thread exited without an answer (code ${code})`));
    });
  });
}
