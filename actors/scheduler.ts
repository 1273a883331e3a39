import type { Role } from "../contracts/roles.ts";
import type { RunPool, RunQueue } from "../contracts/runs.ts";
import { ActorBase } from "./actor-base.ts";
import type { Clock } from "./clock.ts";
import { decideFairShare, type PoolCapacity, type PoolRun } from "./fair-share.ts";

/** An active run of the pool as the store reads it: what the decision needs, and the queue last written. */
export interface ObservedRun extends PoolRun {
  queue: RunQueue | null;
}

/** The scheduler's view of the database, for one activation: its writes are fenced by its lease. */
export interface SchedulerStore {
  /** The pool's active runs and the database's now (ms); null when the lease is no longer ours. */
  observe(): Promise<{ runs: ObservedRun[]; now: number } | null>;
  /**
   * Grants these queued runs their slots and writes the waiting runs' places, in one transaction under
   * the lease; answers the runs granted (a run stopped meanwhile is not) with their hosts, or null
   * when the lease is no longer ours (nothing was written).
   */
  commit(
    grants: readonly string[],
    queue: readonly { id: string; queue: RunQueue }[],
  ): Promise<{ id: string; ownerNode: string | null }[] | null>;
}

export interface SchedulerOptions {
  /** Between two looks when nothing wakes it (slots freed, a run queued or ended wake it at once). */
  pollMs: number;
  reserveAfterMs: number;
  weights: Readonly<Record<Role, number>>;
  /** The pool's capacity now (its worker nodes asked). */
  capacity(pool: RunPool): Promise<PoolCapacity>;
  /** A run was granted its slots: wake its actor. */
  granted(run: { id: string; ownerNode: string | null }): void;
  clock?: Clock;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

/**
 * The fair-share scheduler of one worker pool: the one place where queued runs get slots. It is a
 * virtual actor under a lease like a run (the pool's row in `schedulers`), so that exactly one runs
 * node schedules a pool at a time and another takes over when that node dies. Each `tick` is one
 * look: observe the pool's active runs and its capacity, decide (actors/fair-share.ts, pure), commit
 * the grants and the waiting runs' places under the lease, then wake the granted runs' actors, which
 * reserve their runners. A grant is durable in the run's row: a scheduler that takes over counts it.
 */
export class SchedulerActor extends ActorBase {
  constructor(
    readonly pool: RunPool,
    private readonly store: SchedulerStore,
    private readonly options: SchedulerOptions,
  ) {
    super(options.pollMs, options.clock);
  }

  protected override async tick(): Promise<void> {
    const seen = await this.store.observe();
    if (seen === null || this.fenced) return this.finish();
    const waiting = seen.runs.filter((r) => !r.granted);
    if (waiting.length > 0) {
      const decision = decideFairShare({
        pool: this.pool,
        capacity: await this.options.capacity(this.pool),
        runs: seen.runs,
        weights: this.options.weights,
        now: seen.now,
        reserveAfterMs: this.options.reserveAfterMs,
      });
      // Only the places that changed are written: a full pool's queue is mostly still.
      const queue = waiting.flatMap((r) => {
        const q = decision.queue.get(r.id);
        return q && !sameQueue(q, r.queue) ? [{ id: r.id, queue: q }] : [];
      });
      if (decision.grants.length > 0 || queue.length > 0) {
        const granted = await this.store.commit(decision.grants, queue);
        if (granted === null) return this.finish();
        if (granted.length > 0)
          this.options.log?.info?.(
            { pool: this.pool, runs: granted.map((g) => g.id) },
            "granted runner slots",
          );
        for (const run of granted) this.options.granted(run);
      }
    }
    this.tickLater();
  }

  /** The database or a worker did not answer: look again at the next poll. */
  protected override onError(err: unknown): void {
    this.options.log?.warn({ err, pool: this.pool }, "scheduling failed; trying again");
    this.tickLater();
  }
}

/** Field by field: PostgreSQL's jsonb gives the keys back in an order of its own. */
function sameQueue(a: RunQueue, b: RunQueue | null): boolean {
  return b !== null && (Object.keys(a) as (keyof RunQueue)[]).every((k) => a[k] === b[k]);
}
