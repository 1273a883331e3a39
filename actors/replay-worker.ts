/**
 * The worker thread of `replayInThread` (actors/replay-thread.ts): decodes a checkpoint and records
 * one evaluation episode of its policy (actors/evaluation.ts `replayTrainedPolicy`), so that neither
 * the decoding, the MuJoCo engine's load nor the episode's steps hold the event loop of the process
 * that serves requests. It answers once and ends.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ReplayReply, ReplayRequest } from "./replay-thread.ts";
import { lowerThreadPriority, REPLAY_NICE } from "./thread-entry.ts";

// Before the modules that decode and replay load, as a learner's thread does (actors/learner-worker.ts).
lowerThreadPriority(REPLAY_NICE);
const { decodeCheckpoint } = await import("../rl/ppo/checkpoint.ts");
const { replayTrainedPolicy } = await import("./evaluation.ts");

const port = parentPort;
if (!port) throw new Error("actors/replay-worker.ts runs only as a worker thread");
const req = workerData as ReplayRequest;

async function main(): Promise<ReplayReply> {
  try {
    const state = decodeCheckpoint(req.checkpoint);
    const episode = await replayTrainedPolicy(state.envId, state.config, state.params, {
      seed: req.seed,
      episode: req.episode,
      normalization: state.normalization ?? null,
    });
    return { ok: true, episode };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    return {
      ok: false,
      error: { name: e.name, message: e.message, ...(typeof code === "string" ? { code } : {}) },
    };
  }
}

void main().then((reply) => port.postMessage(reply));
