/**
 * The time an actor reads and the timer it waits with. In production the process's own; a unit test
 * injects one it moves by hand (test/actors/helpers), so that an actor's waits and timestamps are
 * the test's to drive, in milliseconds and without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
