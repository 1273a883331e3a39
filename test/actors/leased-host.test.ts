import test from "ava";
import { ActorBase } from "../../actors/actor-base.ts";
import {
  type HeldLease,
  type Lease,
  LeasedActorHost,
  type LeasedActorHostOptions,
  type LeaseStore,
} from "../../actors/leased-host.ts";

const TTL_MS = 1_000;

/**
 * The lease rules of services/leases/lease-store.ts over rows in memory, on a clock the test moves:
 * an active row whose lease expired or was handed back is claimable, a claim raises the epoch, and a
 * lease is renewed (or handed back) only by its node and epoch while it is alive.
 */
class MemoryLeases implements LeaseStore {
  now = 0;
  readonly rows = new Map<string, { owner: string | null; epoch: number; until: number; active: boolean }>();

  add(id: string, owner: string | null, epoch: number, active = true): void {
    this.rows.set(id, { owner, epoch, until: owner ? this.now + TTL_MS : 0, active });
  }

  async claimOrphans(nodeID: string, limit: number) {
    const claimed: { id: string; epoch: number }[] = [];
    for (const [id, row] of this.rows) {
      if (claimed.length >= limit) break;
      if (!row.active || (row.owner !== null && row.until > this.now)) continue;
      Object.assign(row, { owner: nodeID, epoch: row.epoch + 1, until: this.now + TTL_MS });
      claimed.push({ id, epoch: row.epoch });
    }
    return claimed;
  }

  private live(id: string, lease: Lease) {
    const row = this.rows.get(id);
    return row?.owner === lease.nodeID && row.epoch === lease.epoch && row.until > this.now ? row : undefined;
  }

  async renew(leases: readonly HeldLease[]) {
    const kept = leases.filter(({ id, lease }) => this.live(id, lease));
    for (const { id, lease } of kept) this.live(id, lease)!.until = this.now + TTL_MS;
    return new Set(kept.map((l) => l.id));
  }

  async valid(leases: readonly HeldLease[]) {
    return new Set(leases.filter(({ id, lease }) => this.live(id, lease)).map((l) => l.id));
  }

  async release(id: string, lease: Lease) {
    const row = this.rows.get(id);
    if (row?.owner !== lease.nodeID || row.epoch !== lease.epoch) return false;
    Object.assign(row, { owner: null, until: 0 });
    return true;
  }
}

/** An actor that records its life: how often it was woken, how it ended. */
class Recorder extends ActorBase {
  wakes = 0;
  endedBy: "handover" | "fence" | "deactivate" | null = null;

  constructor(
    readonly id: string,
    readonly lease: Lease,
  ) {
    super(3_600_000);
  }

  protected override async tick(): Promise<void> {
    this.tickLater(); // waits for a wake, as a run waiting for runners does
  }

  protected override onError(): void {}

  override wake(): void {
    this.wakes += 1;
    super.wake();
  }

  override fence(): Promise<void> {
    this.endedBy = "fence";
    return super.fence();
  }

  override deactivate(handover = false): Promise<void> {
    this.endedBy ??= handover ? "handover" : "deactivate";
    return super.deactivate(handover);
  }
}

function setup(overrides: Partial<LeasedActorHostOptions<Recorder>> = {}) {
  const leases = new MemoryLeases();
  const logs: string[] = [];
  const remote: { nodeID: string; id: string }[] = [];
  const loaded: Recorder[] = [];
  let reachable = true;
  const host = new LeasedActorHost<Recorder>({
    kind: "run",
    leases,
    claimBatch: 2,
    intervalMs: 3_600_000,
    renew: { reachable: async () => reachable },
    async load(id, lease) {
      const actor = new Recorder(id, lease);
      loaded.push(actor);
      return actor;
    },
    async wakeRemote(nodeID, id) {
      remote.push({ nodeID, id });
      if (nodeID === "gone") throw new Error("no such node");
    },
    log: { info: (_o, msg) => logs.push(msg), warn: (_o, msg) => logs.push(msg) },
    ...overrides,
  });
  return { host, leases, logs, remote, loaded, cutOff: (cut: boolean) => (reachable = !cut) };
}

test("a round claims the active rows whose lease expired or was handed back, batch after batch, raising their epochs", async (t) => {
  const { host, leases, loaded } = setup();
  leases.add("a", null, 3);
  leases.add("b", "other", 1);
  leases.add("c", "other", 5);
  leases.add("d", null, 0, false);
  leases.now = TTL_MS; // b's and c's leases expire
  leases.add("live", "other", 1);
  await host.start("me");
  t.deepEqual(
    loaded.map((a) => [a.id, a.lease.epoch]),
    [
      ["a", 4],
      ["b", 2],
      ["c", 6],
    ],
    "a full batch of two, then the rest in the round right after; never an inactive row or a live lease",
  );
  t.deepEqual(
    host
      .actors()
      .map((a) => a.id)
      .sort(),
    ["a", "b", "c"],
  );
  t.true(loaded.every((a) => a.active && a.lease.nodeID === "me"));
  await host.stop();
});

test("a lease found lost fences its actor, which ends and leaves the host; the others are renewed", async (t) => {
  const { host, leases, logs } = setup();
  leases.add("kept", null, 0);
  leases.add("lost", null, 0);
  await host.start("me");
  const lost = host.actor("lost")!;
  leases.rows.get("lost")!.epoch += 1; // another node took it over
  leases.now = TTL_MS / 2;
  await host.maintain();
  await lost.ended;
  t.is(lost.endedBy, "fence");
  t.is(host.actor("lost"), undefined);
  t.true(logs.includes("lost the run's lease; ending its actor"));
  t.is(leases.rows.get("kept")!.until, TTL_MS / 2 + TTL_MS, "renewed from the round's now");
  await host.stop();
});

test("cut off from the cluster, a node only checks its leases: it renews none and claims nothing", async (t) => {
  const { host, leases, cutOff, loaded } = setup();
  leases.add("mine", null, 0);
  await host.start("me");
  const mine = host.actor("mine")!;
  cutOff(true);
  leases.add("orphan", null, 0);
  leases.now = TTL_MS / 2;
  await host.maintain();
  t.is(leases.rows.get("mine")!.until, TTL_MS, "not renewed");
  t.is(host.actor("mine"), mine, "still valid: kept");
  t.true(mine.active);
  t.deepEqual(
    loaded.map((a) => a.id),
    ["mine"],
  );
  leases.now = TTL_MS;
  await host.maintain();
  await mine.ended;
  t.is(mine.endedBy, "fence", "expired while cut off: fenced");
  t.is(host.actor("mine"), undefined);
  await host.stop();
});

test("without renewal the host only claims: the actors' own writes keep their leases", async (t) => {
  const { host, leases } = setup({ renew: undefined });
  leases.add("s", null, 0);
  await host.start("me");
  const actor = host.actor("s")!;
  leases.rows.get("s")!.epoch += 1;
  await host.maintain();
  t.is(host.actor("s"), actor, "not fenced by the host");
  t.is(leases.rows.get("s")!.until, TTL_MS, "not renewed by the host");
  await host.stop();
});

test("activating a newer lease of a hosted row fences the older activation first; the same lease twice activates once", async (t) => {
  const { host } = setup();
  await host.start("me");
  const first = new Recorder("r", { nodeID: "me", epoch: 1 });
  const again = new Recorder("r", { nodeID: "me", epoch: 1 });
  const second = new Recorder("r", { nodeID: "me", epoch: 2 });
  host.activate("r", first.lease, first);
  host.activate("r", again.lease, again);
  t.is(host.actor("r"), first, "the same epoch: the activation that runs stays");
  host.activate("r", second.lease, second);
  t.is(host.actor("r"), second);
  await first.ended;
  t.is(first.endedBy, "fence");
  t.true(second.active);
  t.true(again.active, "never activated, so never ended");
  await host.stop();
});

test("a hint wakes the actor on this node, asks the owning node otherwise, and forgets a node that does not answer", async (t) => {
  const { host, leases, remote } = setup();
  leases.add("here", null, 0);
  await host.start("me");
  await host.hint("here", "me");
  t.is(host.actor("here")!.wakes, 1);
  await host.hint("there", "other");
  await host.hint("lost", "gone");
  await host.hint("nobody", null);
  t.deepEqual(remote, [
    { nodeID: "other", id: "there" },
    { nodeID: "gone", id: "lost" },
  ]);
  t.true(host.wake("here"));
  t.false(host.wake("there"));
  t.is(host.actor("here")!.wakes, 2);
  await host.stop();
});

test("stop hands every lease back after its actor ended with a handover, and the host claims nothing after", async (t) => {
  const { host, leases, loaded } = setup();
  leases.add("a", null, 0);
  leases.add("b", null, 0);
  await host.start("me");
  leases.rows.get("b")!.epoch += 1; // b's lease was lost meanwhile: nothing to hand back
  const actors = host.actors();
  const handed = await host.stop();
  t.deepEqual(handed, ["a"]);
  t.true(actors.every((a) => a.endedBy === "handover" && !a.active));
  t.is(leases.rows.get("a")!.owner, null);
  t.deepEqual(host.actors(), []);
  leases.add("late", null, 0);
  await host.maintain();
  host.activate("x", { nodeID: "me", epoch: 1 }, new Recorder("x", { nodeID: "me", epoch: 1 }));
  t.deepEqual(host.actors(), []);
  t.is(loaded.length, 2);
});
