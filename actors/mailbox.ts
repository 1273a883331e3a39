/**
 * An actor's mailbox: messages are handled one at a time, in the order they were posted, so that an
 * actor's state is never touched by two handlers at once (the actor model's one guarantee).
 */
export class Mailbox<M> {
  private readonly queue: M[] = [];
  private draining: Promise<void> | null = null;
  /** Set before the first message is handled: one posted meanwhile (even synchronously) only queues. */
  private busy = false;

  constructor(
    private readonly handle: (message: M) => Promise<void>,
    private readonly onError: (err: unknown, message: M) => void,
  ) {}

  post(message: M): void {
    this.queue.push(message);
    if (this.busy) return;
    this.busy = true;
    this.draining = this.drain();
  }

  /** Resolves once every message posted so far has been handled. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      for (let m = this.queue.shift(); m !== undefined; m = this.queue.shift()) {
        try {
          await this.handle(m);
        } catch (err) {
          this.onError(err, m);
        }
      }
    } finally {
      this.busy = false;
      this.draining = null;
    }
  }
}
