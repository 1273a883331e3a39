/**
 * Entry point of an env session's child process (a `SupervisedChild`, see `supervised-child.ts`,
 * with `serialization: "advanced"`). It serves one session: one isolate, one request at a time, each
 * answered once. It exits when the host disconnects, and on an isolated-vm catastrophic error; the
 * host kills it when a crossing fails or runs past its deadline.
 */
import ivm from "isolated-vm";
import { EnvFailure, IsolateEnvs } from "./env-isolate.ts";
import type { EnvReply, EnvRequest } from "./protocol.ts";
import { onCatastrophe, serveHost } from "./supervised-child.ts";

let session: IsolateEnvs | undefined;
/** `limits.processMemoryMb` of the session, in bytes, once it is open. */
let processMemoryBytes = Number.POSITIVE_INFINITY;

/** Output of this request, when there was some, and the isolate's CPU time so far. */
function withConsole<T extends object>(reply: T): T & { console?: string; cpuMs?: number } {
  const text = session?.takeConsole() ?? "";
  const cpuMs = session?.cpuTimeMs() ?? 0;
  return text.length > 0 ? { ...reply, console: text, cpuMs } : { ...reply, cpuMs };
}

function answer(request: EnvRequest): EnvReply {
  const { id } = request;
  if (request.type === "open") {
    if (session) throw new EnvFailure("crash", "this process already serves a session");
    processMemoryBytes = request.limits.processMemoryMb * 1024 * 1024;
    session = new IsolateEnvs(ivm, request, onCatastrophe);
    return { type: "opened", id, spec: session.open() };
  }
  if (!session) throw new EnvFailure("crash", "the session is not open");
  switch (request.type) {
    case "reset":
      return { type: "reset", id, observations: session.reset(request.seeds) };
    case "step":
      return { type: "step", id, ...session.step(request.actions) };
    case "getStates":
      return { type: "states", id, ...session.getStates() };
    case "setStates":
      session.setStates(request.statesJson, request.elapsed);
      return { type: "statesSet", id };
  }
}

/**
 * The whole process's resident memory, after each crossing: the crossing itself is one synchronous
 * call (nothing here runs during it), and the isolate inside it is bounded by its own memoryLimit.
 */
function checkProcessMemory(): void {
  const rss = process.memoryUsage.rss();
  if (rss > processMemoryBytes) {
    const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));
    throw new EnvFailure(
      "memory",
      `the session's process uses ${mib(rss)} MiB, more than its limit of ${mib(processMemoryBytes)} MiB`,
    );
  }
}

serveHost<EnvRequest, EnvReply>((request) => {
  let reply: EnvReply;
  try {
    reply = answer(request);
    checkProcessMemory();
  } catch (error) {
    const failure =
      error instanceof EnvFailure
        ? { kind: error.kind, message: error.message, ...(error.budget ? { budget: error.budget } : {}) }
        : // Only a defect of the sandbox itself lands here.
          {
            kind: "crash" as const,
            message: `the sandbox failed: ${error instanceof Error ? error.message : String(error)}`,
          };
    reply = { type: "error", id: request.id, error: failure };
  }
  return withConsole(reply);
});
