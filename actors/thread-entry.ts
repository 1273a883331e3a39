import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { fileURLToPath } from "node:url";

/** Whether this module runs from TypeScript sources (through tsx) or from the compiled `dist/`. */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

/**
 * The worker inherits the parent's execArgv, where tsx's loader is when the parent runs from sources
 * (`tsx main.ts`, ava's `--import=tsx`); a `.ts` worker of a parent loaded otherwise gets it here.
 */
const EXEC_ARGV: string[] | undefined =
  FROM_SOURCES && !process.execArgv.some((a) => a.includes("tsx"))
    ? ["--import", import.meta.resolve("tsx")]
    : undefined; // inherited (passed explicitly, process-wide flags such as --no-node-snapshot are refused)

/**
 * Where a worker thread's module `actors/<name>` is, from sources or from `dist/`, and the execArgv
 * it needs: spread the result into `new Worker(path, { ...execArgv, ... })`.
 */
export function workerEntry(name: string): { path: string; execArgv?: { execArgv: string[] } } {
  const path = fileURLToPath(new URL(`./${name}.${FROM_SOURCES ? "ts" : "js"}`, import.meta.url));
  return EXEC_ARGV ? { path, execArgv: { execArgv: EXEC_ARGV } } : { path };
}

/**
 * The niceness of a learner thread: under CPU contention the kernel's scheduler gives the threads that
 * serve requests and renew leases (nice 0) about ten times the learner's share (CFS weights 1024 vs
 * 110), so a busy learner slows down before the API does.
 */
export const LEARNER_NICE = 10;
/** As a learner's: a replay slows down before the requests do. */
export const REPLAY_NICE = 10;

/**
 * Lowers the calling thread's priority to `nice` (a worker thread's own computation: a learner, a
 * replay), so that under CPU contention the threads that serve requests and renew leases (nice 0) get
 * the larger share. Linux only: /proc/thread-self names this thread's id, and setpriority(2) on a
 * thread id applies to that thread alone.
 */
export function lowerThreadPriority(nice: number): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").at(-1));
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Another OS, or no /proc: the thread keeps the process's priority.
  }
}
