/**
 * Entry point of a pool child process (`child_process.fork`, started with `--no-node-snapshot`,
 * which isolated-vm needs on Node ≥ 20). It runs one job at a time, each in a fresh isolate, and
 * answers over the IPC channel. It holds no secrets: the pool starts it with an almost empty
 * environment. It exits when the pool disconnects, and on an isolated-vm catastrophic error
 * (an isolate that can no longer be controlled), after which the pool starts a replacement.
 */
import ivm from "isolated-vm";
import { runJobInIsolate } from "./isolate-job.ts";
import { type ChildMessage, failure, type ParentMessage, type WireResult } from "./protocol.ts";

const EXIT_CATASTROPHE = 70;

function send(message: ChildMessage): void {
  // The pool may be gone already (closed or crashed); there is nobody left to tell.
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

function onCatastrophe(message: string): void {
  send({ type: "fatal", message });
  // Give the IPC message a moment to leave, then go: the isolate's memory is unrecoverable.
  setTimeout(() => process.exit(EXIT_CATASTROPHE), 50).unref();
}

async function handle(message: ParentMessage): Promise<void> {
  let result: WireResult;
  try {
    result = await runJobInIsolate(ivm, message.job, onCatastrophe);
  } catch (error) {
    // Only a defect of the sandbox itself lands here; report it and let the pool replace this process.
    result = {
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
  send({ type: "result", id: message.id, result });
}

process.on("message", (message: ParentMessage) => {
  if (message?.type === "run") void handle(message);
});
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
