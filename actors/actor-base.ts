import { type Clock, systemClock } from "./clock.ts";
import { Mailbox } from "./mailbox.ts";

type Message = { type: "tick" } | { type: "deactivate"; handover: boolean } | { type: "fence" };

/**
 * What the hosted actors share (TrainingRun, SweepActor): one mailbox, so that an actor's state is
 * never touched by two handlers at once; one timer that posts the next `tick` later (a retry, a poll)
 * and that `wake` cuts short; and `ended`, resolved once the actor has finished. A host drives it
 * (actors/leased-host.ts): `activate` posts the first tick, `deactivate` ends it after its current
 * message, `fence` ends it without another write (its lease was lost).
 *
 * A subclass does its work in `tick`, each tick posting the next (`tickNow`) or waiting (`tickLater`),
 * and ends with `finish`; `onError` gets what a tick threw.
 */
export abstract class ActorBase {
  private readonly mailbox: Mailbox<Message>;
  private timer: unknown = null;
  private finished = false;
  private resolveEnded!: () => void;
  /** Resolves when the actor has ended: its work is done, or it was deactivated or fenced. */
  readonly ended: Promise<void>;
  /** The lease was found lost: the actor writes nothing more, and ends at its next message. */
  protected fenced = false;

  /** `laterMs`: how long `tickLater` waits (a retry's or a poll's interval), on `clock`'s timer. */
  constructor(
    private readonly laterMs: number,
    protected readonly clock: Clock = systemClock,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.mailbox = new Mailbox<Message>(
      (m) => this.receive(m),
      (err) => void this.onError(err),
    );
  }

  get active(): boolean {
    return !this.finished;
  }

  /** Starts the actor (the first tick). */
  activate(): void {
    this.tickNow();
  }

  /** Something changed (a stop request, freed slots, a trial's run moved): a waiting actor ticks now. */
  wake(): void {
    if (this.timer !== null) {
      this.cancelTickLater();
      this.tickNow();
    }
  }

  /**
   * Ends the actor after its current message. With `handover` it first stores what it finished
   * (`handover()`), so that the node that takes it over redoes nothing; without, the work in progress
   * is abandoned at once (`abandon()`).
   */
  deactivate(handover = false): Promise<void> {
    this.cancelTickLater();
    if (!handover) this.abandon();
    this.mailbox.post({ type: "deactivate", handover });
    return this.ended;
  }

  /** The lease was found lost: no more writes at all; the actor ends after its current message. */
  fence(): Promise<void> {
    this.fenced = true;
    this.cancelTickLater();
    this.abandon();
    this.mailbox.post({ type: "fence" });
    return this.ended;
  }

  /** One step of the actor's work. */
  protected abstract tick(): Promise<void>;

  /** What a tick threw. */
  protected abstract onError(err: unknown): void | Promise<void>;

  /** Ends the work in progress that nothing is to keep (a delete, a lost lease). */
  protected abandon(): void {}

  /** Stores what this activation finished, before a clean handover. */
  protected async handover(): Promise<void> {}

  /** Frees what the actor holds, as it ends. */
  protected async cleanup(): Promise<void> {}

  protected tickNow(): void {
    this.mailbox.post({ type: "tick" });
  }

  /** The next tick after `laterMs`, unless one is already waiting or the actor has ended. */
  protected tickLater(): void {
    if (this.finished || this.timer !== null) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.tickNow();
    }, this.laterMs);
  }

  private cancelTickLater(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ends the actor (once): nothing is handled after this; `ended` resolves once it has cleaned up. */
  protected async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.cancelTickLater();
    await this.cleanup();
    this.resolveEnded();
  }

  private async receive(message: Message): Promise<void> {
    if (this.finished) return;
    if (message.type === "fence" || this.fenced) return this.finish();
    if (message.type === "deactivate") {
      if (message.handover) await this.handover();
      return this.finish();
    }
    return this.tick();
  }
}
