import type { ExecutionContext } from "ava";

/**
 * The one way a test waits: for the state, event or message it asserts, never for a length of time.
 * `waitFor` reads a state again and again until it holds; a deadline only bounds a real failure (the
 * test then fails with what it waited for and the last value seen, instead of hanging the suite).
 * Deadlines are generous on purpose: a loaded 2-core CI machine may be ten times slower than a quiet
 * one, and a deadline that a slow but correct run can reach is a flaky test.
 */

/** A deadline that only a broken system reaches, for waits on one process. */
export const DEFAULT_DEADLINE_MS = 60_000;

/** A whole training run (or sweep) through several processes to end, on a loaded machine. */
export const RUN_DEADLINE_MS = 300_000;

/**
 * How long a test that trains through several real processes (faults, failover, a browser) may take
 * on a loaded machine: well past ava's 120 s inactivity timeout, which such a test sets with
 * `allowLongTest(t)`.
 */
export const LONG_TEST_MS = 600_000;

/** Between two reads: short enough not to slow a test down, long enough not to load the machine. */
const POLL_MS = 50;

export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
}

/**
 * Reads `read` until `done` holds for its value, and returns that value. An error thrown by `read`
 * ends the wait at once (a child process that died, say): return a value instead to keep waiting.
 * `what` names the awaited state in the failure message (a function: computed at the failure, to
 * include what a process logged meanwhile).
 */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  what: string | (() => string),
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    const waited = Date.now() - started;
    if (waited > deadlineMs)
      throw new WaitTimeoutError(
        `timed out after ${waited} ms waiting for ${typeof what === "string" ? what : what()}; last: ${describe(value)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** `waitFor` for a condition with no value worth reporting. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<void> {
  await waitFor(condition, Boolean, what, deadlineMs);
}

/** Lifts ava's 120 s inactivity timeout for a test that trains through several processes. */
export function allowLongTest(t: ExecutionContext, ms = LONG_TEST_MS): void {
  t.timeout(ms, `the test did not end within ${ms / 1000} s`);
}

function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}
