import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { waitFor } from "../helpers/wait.ts";

/**
 * Real Proxima processes for the operations tests: `main.ts` in a child process, as the image and
 * the chart run it, stopped by real signals.
 */
export const NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface ProximaProcess {
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
}

/** A namespace of its own, so that brokers of other test files on the shared NATS stay invisible. */
export function uniqueNamespace(): string {
  return `ops-${randomBytes(4).toString("hex")}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-ops-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `main.ts` with `env` on top of a quiet test environment; killed at teardown if still alive. */
export function startProxima(t: ExecutionContext, env: Record<string, string>): ProximaProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", NODE_ENV: "test", LOG_LEVEL: "warn", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return { child, output: () => output, exited };
}

/**
 * Asks `url` until `accept` takes its status, and returns that response; fails at once when the
 * process exits first (a start includes migrations and a NATS handshake: seconds on a busy machine).
 */
export async function waitForUrl(
  proc: ProximaProcess | null,
  url: string,
  accept: (status: number) => boolean = (s) => s === 200,
): Promise<Response> {
  const answer = await waitFor(
    async () => {
      if (proc && proc.child.exitCode !== null) {
        throw new Error(
          `the process exited (${proc.child.exitCode}) before ${url} answered:\n${proc.output()}`,
        );
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        if (accept(res.status)) return { res, last: `status ${res.status}` };
        await res.body?.cancel();
        return { res: null, last: `status ${res.status}` };
      } catch (err) {
        return { res: null, last: err instanceof Error ? err.message : String(err) };
      }
    },
    (a) => a.res !== null,
    () => `${url} to answer as expected\n${proc?.output() ?? ""}`,
    120_000,
  );
  return answer.res!;
}
