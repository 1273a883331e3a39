/**
 * Entry point of an env session's child process (`child_process.fork` with `--no-node-snapshot`, an
 * almost empty environment and `serialization: "advanced"`). It serves one session: one isolate,
 * one request at a time, each answered once. It exits when the host disconnects, and on an
 * isolated-vm catastrophic error; the host kills it when a crossing fails or runs past its deadline.
 */
import ivm from "isolated-vm";
import { EnvFailure, IsolateEnvs } from "./env-isolate.ts";
import type { EnvReply, EnvRequest } from "./env-protocol.ts";

const EXIT_CATASTROPHE = 70;

let session: IsolateEnvs | undefined;

function send(message: EnvReply): void {
  // The host may be gone already; there is nobody left to tell.
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

function onCatastrophe(message: string): void {
  send({ type: "fatal", message });
  // Give the IPC message a moment to leave, then go: the isolate's memory is unrecoverable.
  setTimeout(() => process.exit(EXIT_CATASTROPHE), 50).unref();
}

/** Output of this request, when there was some. */
function withConsole<T extends object>(reply: T): T & { console?: string } {
  const text = session?.takeConsole() ?? "";
  return text.length > 0 ? { ...reply, console: text } : reply;
}

function answer(request: EnvRequest): EnvReply {
  const { id } = request;
  if (request.type === "open") {
    if (session) throw new EnvFailure("crash", "this process already serves a session");
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

process.on("message", (request: EnvRequest) => {
  let reply: EnvReply;
  try {
    reply = answer(request);
  } catch (error) {
    const failure =
      error instanceof EnvFailure
        ? { kind: error.kind, message: error.message }
        : // Only a defect of the sandbox itself lands here.
          {
            kind: "crash" as const,
            message: `the sandbox failed: ${error instanceof Error ? error.message : String(error)}`,
          };
    reply = { type: "error", id: request.id, error: failure };
  }
  send(withConsole(reply));
});
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
