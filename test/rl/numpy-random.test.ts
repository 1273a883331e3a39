/**
 * Gymnasium's generator reproduced: SeedSequence pools, PCG64 states and outputs, and `uniform` /
 * `random` draws, against values recorded from NumPy itself by
 * scripts/reference/record_classic_control.py (test/rl/fixtures/reference/numpy-random.json).
 */
import { readFileSync } from "node:fs";
import test from "ava";
import { NumpyGenerator, Pcg64, seedSequencePool } from "../../rl/core/numpy-random.ts";
import { makeEnv } from "../../rl/envs/index.ts";

interface Case {
  seed: number;
  pool: number[];
  state128: { state: string; inc: string };
  uint64: string[];
  uniform: number[];
  random: number[];
}

const reference = JSON.parse(
  readFileSync(new URL("fixtures/reference/numpy-random.json", import.meta.url), "utf8"),
) as { numpy: string; cases: Case[] };

for (const c of reference.cases) {
  test(`seed ${c.seed}: SeedSequence pool, PCG64 state and outputs equal NumPy ${reference.numpy}'s`, (t) => {
    t.deepEqual(Array.from(seedSequencePool(c.seed)), c.pool);
    const bitGen = Pcg64.fromSeed(c.seed);
    t.deepEqual(bitGen.getState(), c.state128);
    t.deepEqual(
      c.uint64.map(() => bitGen.nextUint64().toString()),
      c.uint64,
    );
  });

  test(`seed ${c.seed}: Generator.uniform and Generator.random draw NumPy's numbers`, (t) => {
    const g = new NumpyGenerator(c.seed);
    t.deepEqual(
      c.uniform.map(() => g.uniform(-0.05, 0.05)),
      c.uniform,
    );
    t.deepEqual(
      c.random.map(() => g.random()),
      c.random,
    );
  });
}

test("a generator's state round-trips: restoring it repeats the same draws", (t) => {
  const g = new NumpyGenerator(7);
  g.random();
  const saved = g.getState();
  const first = [g.random(), g.random()];
  const h = new NumpyGenerator(0);
  h.setState(saved);
  t.deepEqual([h.random(), h.random()], first);
});

test("bad seeds and states are refused with a clear error", (t) => {
  t.throws(() => new NumpyGenerator(-1), { message: /seed must be an integer in \[0, 2\^53 - 1\]/ });
  t.throws(() => new NumpyGenerator(1.5), { instanceOf: RangeError });
  t.throws(() => Pcg64.fromState({ state: "1", inc: "2" }), { message: /odd increment/ });
  t.throws(() => Pcg64.fromState({ state: "x", inc: "3" }), { message: /decimal integers/ });
  const env = makeEnv("CartPole-v1");
  t.throws(() => env.reset({ seed: -3 }), { message: /seed must be an integer in \[0, 9007199254740991\]/ });
});

test("an env snapshot written before PCG64 (xoshiro words) still restores, and then resets deterministically", (t) => {
  const a = makeEnv("CartPole-v1");
  const b = makeEnv("CartPole-v1");
  a.reset({ seed: 1 });
  const legacy = {
    ...a.snapshot(),
    rng: { s: [1, 2, 3, 4] as [number, number, number, number], spare: null },
  };
  a.restore(legacy);
  b.restore(legacy);
  t.deepEqual(a.reset().observation, b.reset().observation);
});
