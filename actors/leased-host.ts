/**
 * A lease as one activation holds it: the node and the fencing epoch it claimed. Every write of the
 * activation is conditional on both (services/leases/lease-store.ts), so that a host that lost its
 * lease writes nothing more.
 */
export interface Lease {
  nodeID: string;
  epoch: number;
}

export interface HeldLease {
  id: string;
  lease: Lease;
}

/** The leases of one kind of actor, as the database keeps them (a table's rows). */
export interface LeaseStore {
  /** Takes over up to `limit` active rows whose lease expired or was handed back, raising their epochs. */
  claimOrphans(nodeID: string, limit: number): Promise<{ id: string; epoch: number }[]>;
  /** Renews these leases; the ids renewed (the others are lost). */
  renew(leases: readonly HeldLease[]): Promise<Set<string>>;
  /** Of these leases, the ones still valid, without renewing them. */
  valid(leases: readonly HeldLease[]): Promise<Set<string>>;
  /** Hands a lease back; false when it was no longer ours. */
  release(id: string, lease: Lease): Promise<boolean>;
}

/** What a host asks of its actors (ActorBase has all of it). */
export interface LeasedActor {
  readonly active: boolean;
  readonly ended: Promise<void>;
  activate(): void;
  wake(): void;
  deactivate(handover?: boolean): Promise<void>;
  fence(): Promise<void>;
}

export interface LeasedActorHostOptions<A extends LeasedActor> {
  /** What the actors are, for the logs ("run": "took over a run", `runId`). */
  kind: string;
  leases: LeaseStore;
  /** The actor of a row this node just claimed, built from the row; null when the row is gone. */
  load(id: string, lease: Lease): Promise<A | null>;
  /** How many orphans one round claims: a node takes its share, the others take the rest. */
  claimBatch: number;
  /** Between two rounds of upkeep. */
  intervalMs: number;
  /**
   * Given, the host renews its actors' leases every round, and fences the actors whose lease is lost;
   * `reachable` says whether this node reaches the cluster now (one that does not only checks its
   * leases, and claims none). Not given, the actors' own writes renew their leases.
   */
  renew?: { reachable(): Promise<boolean> };
  /** Asks node `nodeID` to wake its actor `id`. */
  wakeRemote(nodeID: string, id: string): Promise<unknown>;
  /** After a round's claims: the service's own upkeep. */
  afterClaims?(): Promise<void>;
  /** Told how many orphans a round took over, and of each lease found lost (the service's metrics). */
  onTakeovers?(count: number): void;
  onLeaseLost?(): void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Hosted<A> {
  actor: A;
  lease: Lease;
  /** Its lease was found lost; the actor is ending. */
  fenced?: boolean;
}

/**
 * Hosts virtual actors (Orleans) under leases on their rows: the node holding a row's lease runs its
 * one activation. The host activates the actors of the rows this node creates, resumes or claims;
 * every round it renews its leases (or lets the actors do it) and fences the actors whose lease is
 * lost, then claims the rows whose lease expired or was handed back, raising their epochs so that the
 * previous host's writes are refused. Stopped, it ends its actors after their current message, each
 * storing what it finished, and hands their leases back for another node to claim at once.
 */
export class LeasedActorHost<A extends LeasedActor> {
  private readonly hosted = new Map<string, Hosted<A>>();
  private nodeID = "";
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private maintaining: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: LeasedActorHostOptions<A>) {}

  /** The actor this node hosts for `id`, if any. */
  actor(id: string): A | undefined {
    return this.hosted.get(id)?.actor;
  }

  actors(): A[] {
    return [...this.hosted.values()].map((h) => h.actor);
  }

  /**
   * Starts `actor` for row `id` under the lease this node just took. An actor of an older lease of the
   * same row (this node lost it and took it back) is fenced first: one activation writes at a time.
   */
  activate(id: string, lease: Lease, actor: A): void {
    if (this.stopping) return;
    const current = this.hosted.get(id);
    if (current?.actor.active && current.lease.epoch === lease.epoch) return;
    this.hosted.set(id, { actor, lease });
    void actor.ended.then(() => {
      if (this.hosted.get(id)?.actor === actor) this.hosted.delete(id);
    });
    if (current?.actor.active) void current.actor.fence().then(() => actor.activate());
    else actor.activate();
  }

  /** Tells the node hosting `id` that its row changed (the row itself is what counts). */
  async hint(id: string, ownerNode: string | null | undefined): Promise<void> {
    if (!ownerNode) return;
    if (ownerNode === this.nodeID) this.hosted.get(id)?.actor.wake();
    else await this.options.wakeRemote(ownerNode, id).catch(() => undefined);
  }

  /** On the hosting node: wakes the actor of `id`; whether this node hosts one. */
  wake(id: string): boolean {
    const h = this.hosted.get(id);
    h?.actor.wake();
    return h !== undefined;
  }

  /** The first round of upkeep, then one every `intervalMs`. */
  async start(nodeID: string): Promise<void> {
    this.nodeID = nodeID;
    await this.maintain();
    this.timer = setInterval(() => {
      this.maintain().catch((err: unknown) =>
        this.options.log.warn({ err }, `${this.options.kind} lease maintenance failed`),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * Drain: every actor ends after its current message and stores what it finished, and its lease is
   * handed back. Returns the ids handed back (for the service to tell the other nodes).
   */
  async stop(): Promise<string[]> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.maintaining?.catch(() => undefined);
    const handed: string[] = [];
    await Promise.all(
      [...this.hosted].map(async ([id, h]) => {
        await h.actor.deactivate(true);
        if (await this.options.leases.release(id, h.lease).catch(() => false)) handed.push(id);
      }),
    );
    this.hosted.clear();
    return handed;
  }

  /**
   * One round of lease upkeep. Rounds never overlap; a round asked for during one runs right after it
   * (so does one after a round that claimed a full batch: more orphans may wait).
   */
  maintain(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.maintaining) {
      this.again = true;
      return this.maintaining;
    }
    this.maintaining = (async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again && !this.stopping);
      } finally {
        this.maintaining = null;
      }
    })();
    return this.maintaining;
  }

  private async round(): Promise<void> {
    const { renew, leases, claimBatch } = this.options;
    const reachable = renew ? await renew.reachable() : true;
    if (renew) await this.renew(reachable);
    if (!reachable || this.stopping) return;
    const claimed = await leases.claimOrphans(this.nodeID, claimBatch);
    this.options.onTakeovers?.(claimed.length);
    for (const { id, epoch } of claimed) {
      const lease = { nodeID: this.nodeID, epoch };
      const actor = await this.options.load(id, lease);
      if (actor) this.activate(id, lease, actor);
    }
    if (claimed.length === claimBatch) this.again = true;
    await this.options.afterClaims?.();
  }

  /** Renews (or, cut off from the cluster, only checks) the live leases; fences the actors of lost ones. */
  private async renew(reachable: boolean): Promise<void> {
    const { leases, kind, log } = this.options;
    const held = [...this.hosted]
      .filter(([, h]) => h.actor.active && !h.fenced)
      .map(([id, h]) => ({ id, lease: h.lease }));
    const kept = reachable ? await leases.renew(held) : await leases.valid(held);
    for (const { id, lease } of held) {
      const h = this.hosted.get(id);
      if (kept.has(id) || h?.lease.epoch !== lease.epoch) continue;
      log.warn(
        { [`${kind}Id`]: id, epoch: lease.epoch, reachable },
        `lost the ${kind}'s lease; ending its actor`,
      );
      h.fenced = true;
      this.options.onLeaseLost?.();
      void h.actor.fence();
    }
  }
}
