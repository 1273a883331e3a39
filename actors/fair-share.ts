/**
 * The scheduler's decision, as a pure function of what it observed (one pool's capacity, the active
 * runs of the pool, the role weights, the time). The scheduler actor (actors/scheduler.ts) observes,
 * calls `decideFairShare`, commits the grants and the queue it decided, then wakes the granted runs:
 * observe → decide → commit → wake, as the sweep actor does with sweeps/decide.ts.
 *
 * Fair share. A queued run is placed in order of its owner's share, the slots of the pool the owner's
 * runs hold or were granted divided by the weight of the owner's role (weighted fair queuing:
 * Demers, Keshav and Shenker, "Analysis and simulation of a fair queueing algorithm", 1989; the
 * weighted form is how Slurm's and YARN's fair schedulers order users). Placing a run raises its
 * owner's share by its runners, so an owner with many queued runs gets one place per round of the
 * others; ties go to the owner whose next run has waited longest, then FIFO within an owner.
 *
 * Grants walk that order and grant every run whose runners fit in the free slots. A run that does not
 * fit is passed over (backfilling), so a large run never blocks smaller ones behind it while it is
 * young. Once it has waited `reserveAfterMs` it holds a reservation: nothing behind it is granted, and
 * the slots that free up accumulate until it fits. Reservation after a wait rather than a bypass count:
 * the wait is derived from the run's durable `queuedAt` and the clock alone, so a scheduler that takes
 * over after a failover decides exactly what the previous one would have, with no counter to keep.
 * A run that needs more slots than the pool has at all never reserves (it could hold the pool forever);
 * its reason says so, and it starts once the pool grows.
 */
import type { Role } from "../contracts/roles.ts";
import type { RunPool, RunQueue } from "../contracts/runs.ts";

/** A pool's capacity now: the slots of its live, not draining worker nodes, and how many of those are free. */
export interface PoolCapacity {
  slots: number;
  /** Free as the worker nodes count them (what a stale runner of an ended run still holds is not free). */
  free: number;
}

/** An active run of the pool (queued, running or stopping), as the scheduler reads it. */
export interface PoolRun {
  id: string;
  ownerId: string;
  role: Role;
  runners: number;
  /** The scheduler granted its slots (it holds them, or is starting and about to). */
  granted: boolean;
  /** When it last entered the queue (created or resumed), ms since the epoch. */
  queuedAt: number;
}

export interface FairShareInput {
  pool: RunPool;
  capacity: PoolCapacity;
  runs: readonly PoolRun[];
  weights: Readonly<Record<Role, number>>;
  /** Now, ms since the epoch, on the clock `queuedAt` was written with (the database's). */
  now: number;
  reserveAfterMs: number;
}

export interface FairShareDecision {
  /** Runs granted now, in fair-share order. */
  grants: string[];
  /** Every queued run left waiting, by id: its place and why. */
  queue: Map<string, RunQueue>;
  /** Slots still free after the grants. */
  free: number;
}

/** 1st, 2nd, 3rd, 4th, 11th, 12th, 21st. */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th"}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The order in which the waiting runs get slots: weighted fair queuing over owners (see above).
 * `held`: each owner's slots held or granted now. Pure and deterministic for the same input.
 */
export function fairShareOrder(
  waiting: readonly PoolRun[],
  held: ReadonlyMap<string, number>,
  weights: Readonly<Record<Role, number>>,
): PoolRun[] {
  const byOwner = new Map<string, PoolRun[]>();
  for (const run of [...waiting].sort(fifo)) {
    const list = byOwner.get(run.ownerId) ?? [];
    list.push(run);
    byOwner.set(run.ownerId, list);
  }
  // Owners in a binary heap keyed by (share, their next run's FIFO place): the decision runs on the
  // event loop of a runs node, and a linear scan per placement was O(runs × owners) (~150 ms for 2,000
  // waiting runs of 1,000 owners); the heap makes it O(runs × log owners).
  const heap: { share: number; runs: PoolRun[]; next: number }[] = [];
  const before = (a: (typeof heap)[number], b: (typeof heap)[number]) => {
    const d = a.share - b.share;
    // Shares within rounding of each other are equal: FIFO between the owners' next runs decides.
    return d < -1e-9 || (Math.abs(d) <= 1e-9 && fifo(a.runs[a.next]!, b.runs[b.next]!) < 0);
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      let least = i;
      for (const child of [2 * i + 1, 2 * i + 2])
        if (child < heap.length && before(heap[child]!, heap[least]!)) least = child;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  };
  for (const [owner, runs] of byOwner) {
    heap.push({ share: (held.get(owner) ?? 0) / weights[runs[0]!.role], runs, next: 0 });
    up(heap.length - 1);
  }
  const order: PoolRun[] = [];
  while (heap.length > 0) {
    const top = heap[0]!;
    const run = top.runs[top.next++]!;
    order.push(run);
    top.share += run.runners / weights[run.role];
    if (top.next === top.runs.length) {
      const last = heap.pop()!;
      if (heap.length === 0) break;
      heap[0] = last;
    }
    down(0);
  }
  return order;
}

/** Oldest in the queue first; the id breaks ties so that every scheduler orders alike. */
function fifo(a: PoolRun, b: PoolRun): number {
  return a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The grants and the queue of one pool (see the module's comment). */
export function decideFairShare(input: FairShareInput): FairShareDecision {
  const { capacity, weights, pool } = input;
  const held = new Map<string, number>();
  let committed = 0;
  for (const run of input.runs) {
    if (!run.granted) continue;
    held.set(run.ownerId, (held.get(run.ownerId) ?? 0) + run.runners);
    committed += run.runners;
  }
  // Granted runs that have not reserved yet still count as free on the workers: the lower of the two.
  let free = Math.max(0, Math.min(capacity.slots - committed, capacity.free));
  const order = fairShareOrder(
    input.runs.filter((r) => !r.granted),
    held,
    weights,
  );
  const grants: string[] = [];
  const waiting: PoolRun[] = [];
  let reserving: PoolRun | null = null;
  for (const run of order) {
    if (reserving === null && run.runners <= free) {
      grants.push(run.id);
      free -= run.runners;
      held.set(run.ownerId, (held.get(run.ownerId) ?? 0) + run.runners);
      continue;
    }
    waiting.push(run);
    const tooBig = run.runners > capacity.slots;
    if (reserving === null && !tooBig && input.now - run.queuedAt >= input.reserveAfterMs) reserving = run;
  }
  const queue = new Map<string, RunQueue>();
  const POOL = pool.toUpperCase();
  const reservedAt = reserving === null ? -1 : waiting.indexOf(reserving);
  for (const [i, run] of waiting.entries()) {
    const position = i + 1;
    const ownerSlots = held.get(run.ownerId) ?? 0;
    const weight = weights[run.role];
    let why: string;
    if (capacity.slots === 0) why = `no ${POOL} worker is up`;
    else if (run.runners > capacity.slots)
      why = `the ${POOL} pool has only ${plural(capacity.slots, "slot")}`;
    else if (run === reserving) why = `${plural(free, "slot")} free, kept for this run until it fits`;
    else if (reservedAt >= 0 && reservedAt < i) why = "behind a run that slots are kept for";
    else why = `${plural(free, "slot")} free`;
    const share = `your share ${ownerSlots} of ${plural(capacity.slots, "slot")}${weight === 1 ? "" : ` (weight ${weight})`}`;
    queue.set(run.id, {
      pool,
      position,
      runners: run.runners,
      ownerSlots,
      poolSlots: capacity.slots,
      freeSlots: free,
      weight,
      reserved: run === reserving,
      reason: `${ordinal(position)} for ${plural(run.runners, `${POOL} runner`)}; ${share}; ${why}`,
    });
  }
  return { grants, queue, free };
}
