import test from "ava";
import { Rng } from "../../rl/core/rng.ts";

// First outputs of the reference xoshiro128** 1.1 (https://prng.di.unimi.it/xoshiro128starstar.c) from
// the state words [1, 2, 3, 4], as the reference C code prints them.
const REFERENCE_1234 = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849];

test("xoshiro128** from state [1, 2, 3, 4] gives the reference outputs", (t) => {
  const rng = Rng.fromState({ s: [1, 2, 3, 4], spare: null });
  t.deepEqual(
    REFERENCE_1234.map(() => rng.nextUint32()),
    REFERENCE_1234,
  );
});

test("the same seed gives the same stream and different seeds differ", (t) => {
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 16 }, () => rng.nextUint32());
  };
  t.deepEqual(draw(42), draw(42));
  t.notDeepEqual(draw(42), draw(43));
});

test("re-seeding in place restarts the stream", (t) => {
  const rng = new Rng(7);
  const first = [rng.uniform(), rng.uniform(), rng.normal()];
  rng.seed(7);
  t.deepEqual([rng.uniform(), rng.uniform(), rng.normal()], first);
});

test("seeds are taken modulo 2^32", (t) => {
  const a = new Rng(-1);
  const b = new Rng(2 ** 32 - 1);
  t.is(a.nextUint32(), b.nextUint32());
});

test("getState/setState round-trips mid-stream, including the cached normal spare", (t) => {
  const rng = new Rng(123);
  for (let i = 0; i < 10; i++) rng.nextUint32();
  rng.normal(); // leaves a cached spare
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  const expected = [rng.normal(), rng.uniform(), rng.int(1000), rng.nextUint32()];
  const restored = Rng.fromState(saved);
  t.deepEqual([restored.normal(), restored.uniform(), restored.int(1000), restored.nextUint32()], expected);
});

test("setState rejects an all-zero state and words outside uint32", (t) => {
  const rng = new Rng(1);
  t.throws(() => rng.setState({ s: [0, 0, 0, 0], spare: null }), { instanceOf: RangeError });
  t.throws(() => rng.setState({ s: [1, 2, 3, 2 ** 32], spare: null }), { instanceOf: RangeError });
  t.throws(() => rng.setState({ s: [1, -2, 3, 4], spare: null }), { instanceOf: RangeError });
});

test("int(n) stays in [0, n) and reaches every value", (t) => {
  const rng = new Rng(5);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 7000; i++) {
    const v = rng.int(7);
    t.true(Number.isInteger(v) && v >= 0 && v < 7);
    counts[v]++;
  }
  t.true(
    counts.every((c) => c > 800 && c < 1200),
    `counts ${counts.join(",")}`,
  );
  t.is(rng.int(1), 0);
  const big = rng.int(2 ** 32);
  t.true(big >= 0 && big < 2 ** 32);
});

test("int(n) rejects n outside 1..2^32", (t) => {
  const rng = new Rng(5);
  for (const n of [0, -3, 1.5, 2 ** 32 + 1, Number.NaN])
    t.throws(() => rng.int(n), { instanceOf: RangeError });
});

test("uniform() lies in [0, 1) with mean near 1/2", (t) => {
  const rng = new Rng(9);
  let sum = 0;
  let min = 1;
  let max = 0;
  for (let i = 0; i < 20000; i++) {
    const u = rng.uniform();
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
  }
  t.true(min >= 0 && max < 1);
  t.true(Math.abs(sum / 20000 - 0.5) < 0.01);
});

test("uniformRange(low, high) lies in [low, high)", (t) => {
  const rng = new Rng(11);
  for (let i = 0; i < 5000; i++) {
    const v = rng.uniformRange(-0.05, 0.05);
    t.true(v >= -0.05 && v < 0.05);
  }
});

test("permutation returns each index exactly once", (t) => {
  const rng = new Rng(3);
  const p = Array.from(rng.permutation(50)).sort((a, b) => a - b);
  t.deepEqual(
    p,
    Array.from({ length: 50 }, (_, i) => i),
  );
});
