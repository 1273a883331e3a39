import test from "ava";
import {
  decideFairShare,
  type FairShareInput,
  fairShareOrder,
  ordinal,
  type PoolRun,
} from "../../actors/fair-share.ts";

/**
 * The scheduler's pure decision (actors/fair-share.ts): the fair-share order, the grants, the bounded
 * wait of a large run and the words a queued run shows, from inputs the test writes down.
 */

const WEIGHTS = { learner: 1, researcher: 1, admin: 1 } as const;
const MINUTE = 60_000;

let seq = 0;
/** A run of `owner` that entered the queue at `queuedAt` (ms). */
function run(owner: string, queuedAt: number, extra: Partial<PoolRun> = {}): PoolRun {
  seq++;
  return {
    id: `${owner}-${String(seq).padStart(3, "0")}`,
    ownerId: owner,
    role: "learner",
    runners: 1,
    granted: false,
    queuedAt,
    ...extra,
  };
}

function decide(runs: PoolRun[], slots: number, extra: Partial<FairShareInput> = {}) {
  return decideFairShare({
    pool: "cpu",
    capacity: { slots, free: slots },
    runs,
    weights: WEIGHTS,
    now: 10 * MINUTE,
    reserveAfterMs: 5 * MINUTE,
    ...extra,
  });
}

test("the owner with the smallest share goes first; FIFO within an owner; an owner with many queued runs gets one place per round", (t) => {
  const a = [1, 2, 3, 4, 5, 6].map((i) => run("a", i));
  const b = run("b", 10);
  const c = run("c", 11);
  const order = fairShareOrder([c, ...a, b], new Map(), WEIGHTS).map((r) => r.id);
  // All shares 0: A's oldest run first, then B and C (share 0 < A's 1), then A again each round.
  t.deepEqual(order, [a[0]!.id, b.id, c.id, a[1]!.id, a[2]!.id, a[3]!.id, a[4]!.id, a[5]!.id]);
});

test("3 users on 4 slots: A queued 6 runs first, then B and C one each; B's and C's start in the first grant, before A's third", (t) => {
  const a = [1, 2, 3, 4, 5, 6].map((i) => run("a", i));
  const b = run("b", 10);
  const c = run("c", 11);
  const d = decide([...a, b, c], 4, { now: MINUTE });
  t.deepEqual(d.grants, [a[0]!.id, b.id, c.id, a[1]!.id]);
  t.is(d.free, 0);
  t.deepEqual(
    [...d.queue.values()].map((q) => q.position),
    [1, 2, 3, 4],
  );
  t.is(d.queue.get(a[2]!.id)?.reason, "1st for 1 CPU runner; your share 2 of 4 slots; 0 slots free");
});

test("the share counts the slots an owner's runs hold, divided by the role's weight", (t) => {
  const running = [run("a", 0, { granted: true, runners: 4 })];
  const researcher = run("r", 5, { role: "researcher", runners: 2 });
  const learner = run("l", 1, { runners: 2 });
  const aWaits = run("a", 0.5, { runners: 2 });
  const weights = { learner: 1, researcher: 4, admin: 1 };
  const held = new Map([["a", 4]]);
  // Shares: a 4, l 0, r 0 → the older (l) first; then r (0) before l's 2 and a's 4.
  t.deepEqual(
    fairShareOrder([aWaits, learner, researcher], held, weights).map((r) => r.ownerId),
    ["l", "r", "a"],
  );
  // With r already holding 8 slots at weight 4 its share is 2: below a's 4, above l's 0.
  const rHolds = new Map([
    ["a", 4],
    ["r", 8],
  ]);
  t.deepEqual(
    fairShareOrder([aWaits, learner, researcher], rHolds, weights).map((r) => r.ownerId),
    ["l", "r", "a"],
  );
  const d = decideFairShare({
    pool: "cpu",
    capacity: { slots: 16, free: 4 },
    runs: [...running, aWaits, learner, researcher],
    weights,
    now: 10,
    reserveAfterMs: MINUTE,
  });
  t.deepEqual(d.grants, [learner.id, researcher.id]);
  t.is(d.queue.get(aWaits.id)?.reason, "1st for 2 CPU runners; your share 4 of 16 slots; 0 slots free");
  t.is(d.queue.get(aWaits.id)?.weight, 1);
});

test("no slot idles while a queued run fits: a run too large for the free slots is passed by smaller ones behind it", (t) => {
  const big = run("a", 0, { runners: 3 });
  const small = run("b", 1);
  const smaller = run("c", 2);
  const d = decide([run("x", 0, { granted: true, runners: 2 }), big, small, smaller], 4, {
    now: MINUTE,
  });
  t.deepEqual(d.grants, [small.id, smaller.id]);
  t.is(d.free, 0);
  t.false(d.queue.get(big.id)!.reserved);
  t.is(d.queue.get(big.id)?.reason, "1st for 3 CPU runners; your share 0 of 4 slots; 0 slots free");
});

test("property: after a decision without a reservation, no waiting run fits in the slots left free", (t) => {
  let state = 12345;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  for (let trial = 0; trial < 500; trial++) {
    const slots = 1 + rand(12);
    const runs: PoolRun[] = [];
    for (let i = 0; i < rand(12); i++)
      runs.push(run(`u${rand(4)}`, rand(100), { runners: 1 + rand(5), granted: rand(3) === 0 }));
    const d = decide(runs, slots, { reserveAfterMs: 10 * MINUTE + 1 });
    const granted = new Set(d.grants);
    const waiting = runs.filter((r) => !r.granted && !granted.has(r.id));
    t.true(
      waiting.every((r) => r.runners > d.free),
      `trial ${trial}: a waiting run fits in ${d.free} free slots`,
    );
    t.is(d.queue.size, waiting.length);
    t.true(d.free >= 0);
  }
});

test("a large run that waited longer than reserveAfterMs keeps the freed slots: smaller runs behind it wait, and it starts once they add up", (t) => {
  const holder = run("x", 0, { granted: true, runners: 3 });
  const big = run("a", 0, { runners: 3 });
  const small = run("b", 1);
  const young = decide([holder, big, small], 4, { now: 4 * MINUTE });
  t.deepEqual(young.grants, [small.id], "young, the big run is passed");

  const old = decide([holder, big, small], 4, { now: 6 * MINUTE });
  t.deepEqual(old.grants, [], "after the wait, the free slot is kept for it");
  t.true(old.queue.get(big.id)!.reserved);
  t.regex(old.queue.get(big.id)!.reason, /1 slot free, kept for this run until it fits$/);
  t.regex(old.queue.get(small.id)!.reason, /^2nd for 1 CPU runner; .*behind a run that slots are kept for$/);

  // The holder ended: 4 free, the big run starts first, then the small one fits too.
  const freed = decide([big, small], 4, { now: 6 * MINUTE });
  t.deepEqual(freed.grants, [big.id, small.id]);
});

test("a run larger than the whole pool never holds a reservation: it cannot block the pool forever", (t) => {
  const huge = run("a", 0, { runners: 8 });
  const small = run("b", 1);
  const d = decide([huge, small], 4, { now: 60 * MINUTE });
  t.deepEqual(d.grants, [small.id]);
  t.false(d.queue.get(huge.id)!.reserved);
  t.is(
    d.queue.get(huge.id)?.reason,
    "1st for 8 CPU runners; your share 0 of 4 slots; the CPU pool has only 4 slots",
  );
});

test("free slots are the lower of the workers' count and the pool's slots less those granted: a granted run not yet started keeps its slots", (t) => {
  const granted = run("a", 0, { granted: true, runners: 2 });
  const waiting = run("b", 1, { runners: 2 });
  // The workers still count the granted run's slots as free (it has not reserved them yet).
  const d = decideFairShare({
    pool: "gpu",
    capacity: { slots: 2, free: 2 },
    runs: [granted, waiting],
    weights: WEIGHTS,
    now: 0,
    reserveAfterMs: MINUTE,
  });
  t.deepEqual(d.grants, []);
  t.is(d.queue.get(waiting.id)?.reason, "1st for 2 GPU runners; your share 0 of 2 slots; 0 slots free");
  // A stale runner of an ended run still holds a slot on its worker: not free either.
  const stale = decide([waiting], 2, { capacity: { slots: 2, free: 1 } });
  t.deepEqual(stale.grants, []);
});

test("a pool without workers says so", (t) => {
  const d = decide([run("a", 0)], 0);
  t.is(
    d.queue.get(d.queue.keys().next().value!)?.reason,
    "1st for 1 CPU runner; your share 0 of 0 slots; no CPU worker is up",
  );
});

test("the same inputs give the same decision (a scheduler that takes over decides alike), whatever the input order", (t) => {
  const runs = [
    run("a", 3),
    run("b", 3),
    run("a", 1),
    run("c", 2, { runners: 2 }),
    run("b", 0, { granted: true }),
  ];
  const one = decide(runs, 4);
  const two = decide([...runs].reverse(), 4);
  t.deepEqual(one.grants, two.grants);
  t.deepEqual([...one.queue.entries()].sort(), [...two.queue.entries()].sort());
});

test("ordinals", (t) => {
  t.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal), [
    "1st",
    "2nd",
    "3rd",
    "4th",
    "11th",
    "12th",
    "13th",
    "21st",
    "22nd",
    "101st",
    "111th",
  ]);
});
