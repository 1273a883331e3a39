import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext } from "ava";

/** The remote CLI as a user runs it: `bin/proxima.js` in a child process, with its own config dir. */
const bin = fileURLToPath(new URL("../../bin/proxima.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cli {
  configHome: string;
  run(
    args: string[],
    opts?: {
      stdin?: string;
      env?: Record<string, string>;
      timeoutMs?: number;
      /** Called with everything printed so far, at each new output. */
      onStdout?: (text: string) => void;
      onStderr?: (text: string) => void;
      /** Run under a pseudo-terminal (util-linux `script`), as in an interactive shell. */
      tty?: boolean;
    },
  ): Promise<CliResult>;
}

/** A CLI whose XDG_CONFIG_HOME is a fresh folder, removed after the test. */
export async function cliFor(t: ExecutionContext): Promise<Cli> {
  const configHome = await mkdtemp(path.join(tmpdir(), "proxima-cli-config-"));
  t.teardown(() => rm(configHome, { recursive: true, force: true }));
  return {
    configHome,
    run(args, opts = {}) {
      return new Promise((resolve) => {
        const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
        const [command, argv] = opts.tty
          ? ["script", ["-qec", [process.execPath, bin, ...args].map(quote).join(" "), "/dev/null"]]
          : [process.execPath, [bin, ...args]];
        const child = spawn(command, argv, {
          env: { ...process.env, XDG_CONFIG_HOME: configHome, ...opts.env },
          stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
          stdout += d;
          opts.onStdout?.(stdout);
        });
        child.stderr.on("data", (d) => {
          stderr += d;
          opts.onStderr?.(stderr);
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        child.stdin.end(opts.stdin ?? "");
      });
    },
  };
}
