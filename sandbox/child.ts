/**
 * Entry point of a pool child process (a `SupervisedChild`, see `supervised-child.ts`). It runs one
 * job at a time, each in a fresh isolate, and answers over the IPC channel. It holds no secrets: the
 * pool starts it with an almost empty environment. It exits when the pool disconnects, and on an
 * isolated-vm catastrophic error (an isolate that can no longer be controlled), after which the pool
 * starts a replacement.
 */
import ivm from "isolated-vm";
import { runJobInIsolate } from "./isolate-job.ts";
import { type ChildMessage, failure, type ParentMessage, type WireResult } from "./protocol.ts";
import { onCatastrophe, serveHost } from "./supervised-child.ts";

async function run(job: ParentMessage["job"]): Promise<WireResult> {
  try {
    return await runJobInIsolate(ivm, job, onCatastrophe);
  } catch (error) {
    // Only a defect of the sandbox itself lands here; report it and let the pool replace this process.
    return {
      status: "error",
      error: failure(
        "crash",
        `the sandbox failed: ${error instanceof Error ? error.message : String(error)}`,
      ),
      calls: [],
      console: "",
      consoleTruncated: false,
      cpuTimeMs: 0,
      wallTimeMs: 0,
      memoryBytes: 0,
      healthy: false,
    };
  }
}

serveHost<ParentMessage, ChildMessage>(async (message) =>
  message?.type === "run" ? { type: "result", id: message.id, result: await run(message.job) } : undefined,
);
