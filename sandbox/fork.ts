import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Whether this module runs from TypeScript sources (through tsx) or from the compiled `dist/`. */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

const EXEC_ARGV = [
  // A forked `.ts` child needs tsx's loader; a compiled `.js` one does not.
  ...(FROM_SOURCES ? ["--import", import.meta.resolve("tsx")] : []),
  // isolated-vm crashes on Node ≥ 20 when the process starts from the built-in startup snapshot.
  "--no-node-snapshot",
];

/**
 * Forks one of the sandbox's child entry points (`child` for the job pool, `env-child` for env
 * sessions) with the flags isolated-vm needs and an almost empty environment. stdout is dropped and
 * stderr inherited, so that only the sandbox's own defects are ever printed.
 */
export function forkSandboxChild(
  entry: "child" | "env-child",
  serialization: "json" | "advanced",
  /** Bounds the child's own V8 heap (`--max-old-space-size`), in MiB; isolates are bounded apart. */
  heapMb?: number,
): ChildProcess {
  const url = new URL(`./${entry}.${FROM_SOURCES ? "ts" : "js"}`, import.meta.url);
  return fork(fileURLToPath(url), [], {
    execArgv: heapMb === undefined ? EXEC_ARGV : [...EXEC_ARGV, `--max-old-space-size=${heapMb}`],
    // Nothing of the parent's environment (database URLs, secrets) is handed to the child.
    env: {
      NODE_ENV: process.env.NODE_ENV ?? "production",
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    serialization,
  });
}
