import type { Clock } from "../../../actors/clock.ts";

/**
 * A clock the test moves by hand (actors/clock.ts): time stands still until `advance`, which fires
 * the timers that come due. An actor that waits (a poll, a retry) sets a timer, so `nextTimer` is how a
 * test knows the actor has finished what it was doing and waits: no sleep, no real time.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Map<object, { at: number; callback: () => void }>();
  private waiters: (() => void)[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = {};
    this.timers.set(handle, { at: this.time + ms, callback });
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as object);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Resolves when the next timer is set (an actor has started to wait). */
  nextTimer(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Moves the time on by `ms`, firing the timers due by then, earliest first. */
  advance(ms: number): void {
    this.time += ms;
    const due = [...this.timers].filter(([, t]) => t.at <= this.time).sort(([, a], [, b]) => a.at - b.at);
    for (const [handle, timer] of due) {
      this.timers.delete(handle);
      timer.callback();
    }
  }
}
