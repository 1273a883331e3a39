import { type Clock, systemClock } from "../../actors/clock.ts";
import { OverloadedError } from "../../lib/errors.ts";

export interface HashGateOptions {
  /** Password hashes (argon2id, ~19 MiB and tens of ms of a core each) computed at once. */
  concurrency: number;
  /** Hashes that may wait for a turn; one more is refused at once. */
  maxQueue: number;
  /** How long a hash may wait for its turn before it is refused (below the caller's request timeout). */
  maxWaitMs: number;
}

interface Waiter {
  start(): void;
  timer: unknown;
}

/**
 * Admission control for password hashing: at most `concurrency` hashes run, at most `maxQueue` wait,
 * none waits longer than `maxWaitMs`. Beyond, the request is refused at once with a 503 and a
 * Retry-After rather than queued: a burst of logins (a class starting at once) otherwise queues
 * hashes past the API's request timeout, and the node keeps hashing for callers that already got a
 * 504 while every other request it serves waits behind them (bench:soak saw 4,530 × 504 from 1,000
 * learners logging in over 2 minutes). Shedding load at the door is the bulkhead pattern (Nygard,
 * "Release It!", ch. 5); the queue bound follows Little's law: what can be served within `maxWaitMs`.
 */
export class HashGate {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly options: HashGateOptions,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Hashes running and waiting now (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.queue.length };
  }

  /** Runs `work` in its turn; rejects with OverloadedError when the gate is full or the wait too long. */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.options.concurrency) return this.start(work);
    if (this.queue.length >= this.options.maxQueue) return Promise.reject(this.overloaded());
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          this.clock.clearTimeout(waiter.timer);
          this.start(work).then(resolve, reject);
        },
        timer: this.clock.setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(this.overloaded());
        }, this.options.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  private async start<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.queue.shift()?.start();
    }
  }

  private overloaded(): OverloadedError {
    return new OverloadedError(
      "too many logins and registrations at once: retry in a few seconds",
      Math.max(1, this.options.maxWaitMs / 1000),
    );
  }
}
