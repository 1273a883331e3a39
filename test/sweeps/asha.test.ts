import test from "ava";
import { AshaBracket, ashaDecide, ashaRungs, valueAtRung } from "../../sweeps/asha.ts";

test("rungs are gracePeriod · η^k below the trial budget, or the explicit list", (t) => {
  t.deepEqual(ashaRungs({ gracePeriod: 1000, reductionFactor: 3 }, 50_000), [1000, 3000, 9000, 27000]);
  t.deepEqual(ashaRungs({ gracePeriod: 1000, reductionFactor: 2 }, 8000), [1000, 2000, 4000]);
  t.deepEqual(ashaRungs({ gracePeriod: 1, reductionFactor: 3, rungs: [5, 50, 500] }, 100), [5, 50]);
});

/**
 * Nine scripted trials reach rung 1000, then the survivors reach rung 3000, in the order listed.
 * The expected cuts follow the rule by hand: a trial continues iff fewer than ⌈n/η⌉ of the n trials
 * at the rung so far (itself included) are strictly better.
 */
test("ASHA prunes exactly the trials the asynchronous rule says on scripted curves", (t) => {
  const bracket = new AshaBracket([1000, 3000], 3, "max");
  const rung1: [string, number][] = [
    ["t0", 5], // n=1 keep 1, none better: continue
    ["t1", 9], // n=2 keep 1, none better: continue
    ["t2", 3], // n=3 keep 1, 2 better: pruned
    ["t3", 7], // n=4 keep 2, 1 better (9): continue
    ["t4", 8], // n=5 keep 2, 1 better: continue
    ["t5", 1], // n=6 keep 2: pruned
    ["t6", 6], // n=7 keep 3, 3 better (9, 7, 8): pruned
    ["t7", 10], // n=8 keep 3, none better: continue
    ["t8", 2], // n=9 keep 3: pruned
  ];
  const pruned: string[] = [];
  const survivors: string[] = [];
  for (const [trial, value] of rung1) {
    const d = bracket.reach(1000, value);
    (d.continue ? survivors : pruned).push(trial);
  }
  t.deepEqual(pruned, ["t2", "t5", "t6", "t8"]);
  t.deepEqual(survivors, ["t0", "t1", "t3", "t4", "t7"]);

  const rung2: [string, number][] = [
    ["t1", 20], // first: continue
    ["t0", 12], // n=2 keep 1, 20 better: pruned
    ["t3", 25], // n=3 keep 1, none better: continue
    ["t4", 11], // n=4 keep 2, 3 better: pruned
    ["t7", 30], // n=5 keep 2, none better: continue
  ];
  const decisions = rung2.map(([trial, value]) => ({ trial, ...bracket.reach(3000, value) }));
  t.deepEqual(
    decisions.filter((d) => !d.continue).map((d) => d.trial),
    ["t0", "t4"],
  );
  const t4 = decisions.find((d) => d.trial === "t4")!;
  t.like(t4, { n: 4, keep: 2, cutoff: 20 });
});

test("for mode min the smaller value wins, and a missing value is worse than any", (t) => {
  t.true(ashaDecide([], 3, 3, "min").continue);
  t.false(ashaDecide([1, 2], 3, 3, "min").continue);
  t.true(ashaDecide([5, 6], 3, 3, "min").continue);
  t.false(ashaDecide([1], null, 2, "max").continue);
  t.true(ashaDecide([null], 0, 2, "max").continue);
});

test("a restored bracket decides as the one that recorded the values", (t) => {
  const a = new AshaBracket([100], 3, "max");
  for (const v of [4, 8, 6]) a.reach(100, v);
  const b = new AshaBracket([100], 3, "max");
  for (const v of [8, 6, 4]) b.restore(100, v);
  t.deepEqual(b.reach(100, 7), a.reach(100, 7));
});

test("the value at a rung is the first point past it, or the latest value before a missing one", (t) => {
  const curve = [
    { globalStep: 256, value: 10 },
    { globalStep: 512, value: 20 },
    { globalStep: 768, value: null },
    { globalStep: 1024, value: 40 },
  ];
  t.deepEqual(valueAtRung(curve, 500), { value: 20 });
  t.deepEqual(valueAtRung(curve, 700), { value: 20 });
  t.deepEqual(valueAtRung(curve, 1024), { value: 40 });
  t.is(valueAtRung(curve, 2000), null);
});

test("a trial that only ties the trials already at a rung ranks after them", (t) => {
  // A capped metric: three trials reach the rung at 500; with η = 3 one place is kept (⌈3/3⌉ = 1).
  const bracket = new AshaBracket([1000], 3, "max");
  t.true(bracket.reach(1000, 500).continue);
  t.false(bracket.reach(1000, 500).continue);
  t.false(bracket.reach(1000, 500).continue);
  // n = 4 keeps 2: a fourth at 500 has three ahead of it; a better value has none.
  t.false(bracket.reach(1000, 500).continue);
  t.true(new AshaBracket([1000], 3, "max").reach(1000, 1).continue);
});
