import test from "ava";
import { ActorBase } from "../../actors/actor-base.ts";

/** A promise resolved from outside: a tick that waits on it holds the mailbox until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** An actor that records what the base asks of it; each tick runs `work`. */
class Probe extends ActorBase {
  readonly log: string[] = [];

  constructor(
    laterMs: number,
    private readonly work: (probe: Probe) => Promise<void> = async () => {},
  ) {
    super(laterMs);
  }

  protected override async tick(): Promise<void> {
    this.log.push("tick");
    await this.work(this);
  }

  protected override onError(err: unknown): void {
    this.log.push(`error: ${(err as Error).message}`);
  }

  protected override abandon(): void {
    this.log.push("abandon");
  }

  protected override async handover(): Promise<void> {
    this.log.push("handover");
  }

  protected override async cleanup(): Promise<void> {
    this.log.push("cleanup");
  }

  // The protected steps a subclass takes, for the tests to take.
  later(): void {
    this.tickLater();
  }

  now(): void {
    this.tickNow();
  }

  end(): Promise<void> {
    return this.finish();
  }

  get isFenced(): boolean {
    return this.fenced;
  }
}

/** Long enough that only `wake` (or a deactivation) can end the wait within a test. */
const NEVER_MS = 3_600_000;

test("messages are handled one at a time, in order: a tick posted during a tick waits for it", async (t) => {
  const first = gate();
  let running = 0;
  let overlapped = false;
  const probe = new Probe(NEVER_MS, async (p) => {
    running += 1;
    overlapped ||= running > 1;
    if (p.log.length === 1) {
      p.now();
      await first.opened;
    }
    running -= 1;
  });
  probe.activate();
  t.deepEqual(probe.log, ["tick"]);
  first.open();
  await probe.deactivate(true);
  t.false(overlapped);
  t.deepEqual(probe.log, ["tick", "tick", "handover", "cleanup"]);
  t.false(probe.active);
});

test("wake cuts a waiting tickLater short; without a tick waiting it posts nothing", async (t) => {
  const second = gate();
  const probe = new Probe(NEVER_MS, async (p) => {
    if (p.log.length === 1) p.later();
    else second.open();
  });
  probe.wake();
  t.deepEqual(probe.log, [], "nothing waits: a wake is no tick");
  probe.activate();
  probe.wake();
  await second.opened;
  probe.wake();
  await probe.deactivate(true);
  t.deepEqual(probe.log, ["tick", "tick", "handover", "cleanup"], "the waiting tick came once, at the wake");
});

test("tickLater ticks after its interval", async (t) => {
  const second = gate();
  const probe = new Probe(1, async (p) => {
    if (p.log.length === 1) p.later();
    else second.open();
  });
  probe.activate();
  await second.opened;
  t.deepEqual(probe.log, ["tick", "tick"]);
  await probe.deactivate();
});

test("deactivate without handover abandons the work in progress at once, then ends after the current tick", async (t) => {
  const held = gate();
  const probe = new Probe(NEVER_MS, () => held.opened);
  probe.activate();
  const ended = probe.deactivate();
  t.deepEqual(probe.log, ["tick", "abandon"], "abandoned before the tick in progress finished");
  t.true(probe.active);
  held.open();
  await ended;
  t.deepEqual(probe.log, ["tick", "abandon", "cleanup"]);
  t.false(probe.active);
});

test("deactivate with handover keeps the work in progress and stores it before the actor ends", async (t) => {
  const probe = new Probe(NEVER_MS);
  probe.activate();
  await probe.deactivate(true);
  t.deepEqual(probe.log, ["tick", "handover", "cleanup"]);
});

test("fence ends the actor without another tick: the ticks already posted are not handled", async (t) => {
  const held = gate();
  const probe = new Probe(NEVER_MS, () => held.opened);
  probe.activate();
  probe.now();
  probe.later();
  const ended = probe.fence();
  t.true(probe.isFenced);
  held.open();
  await ended;
  t.deepEqual(probe.log, ["tick", "abandon", "cleanup"]);
  probe.activate();
  probe.wake();
  await Promise.resolve();
  t.deepEqual(probe.log, ["tick", "abandon", "cleanup"], "an ended actor handles nothing");
});

test("what a tick throws goes to onError, and the actor goes on", async (t) => {
  const probe = new Probe(NEVER_MS, async (p) => {
    if (p.log.length === 1) throw new Error("the database did not answer");
  });
  probe.activate();
  probe.now();
  await probe.deactivate(true);
  t.deepEqual(probe.log, ["tick", "error: the database did not answer", "tick", "handover", "cleanup"]);
});

test("finish ends the actor once: cleanup runs once, ended resolves, a waiting tick is cancelled", async (t) => {
  const probe = new Probe(NEVER_MS, async (p) => {
    p.later();
    await Promise.all([p.end(), p.end()]);
  });
  probe.activate();
  await probe.ended;
  t.deepEqual(probe.log, ["tick", "cleanup"]);
  await probe.deactivate();
  t.deepEqual(probe.log, ["tick", "cleanup", "abandon"], "a late deactivate only abandons");
});
