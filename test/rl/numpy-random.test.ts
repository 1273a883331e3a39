/**
 * Gymnasium's generator reproduced: SeedSequence pools, PCG64 states and outputs, and `uniform` /
 * `random` / `standard_normal` draws, against values recorded from NumPy itself by
 * scripts/reference/record_numpy_random.py (test/rl/fixtures/reference/numpy-random.json).
 */
import { createHash } from "node:crypto";
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
  standardNormal: number[];
}

type Op =
  | { op: "uniform"; low: number; high: number; draws: number[] }
  | { op: "standard_normal"; draws: number[] };

interface Stream {
  seed: number;
  draws: number;
  head: number[];
  blockSize: number;
  blockSha256: string[];
  sha256: string;
  largeAbove: number;
  large: [number, number][];
}

const reference = JSON.parse(
  readFileSync(new URL("fixtures/reference/numpy-random.json", import.meta.url), "utf8"),
) as {
  numpy: string;
  cases: Case[];
  scalarCalls: { seed: number; draws: number[] };
  interleaved: { pattern: string; seed: number; ops: Op[] }[];
  stream: Stream;
};

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

  test(`seed ${c.seed}: Generator.standard_normal draws NumPy's numbers, bit for bit`, (t) => {
    const g = new NumpyGenerator(c.seed);
    t.deepEqual(
      Array.from(g.standardNormalFill(new Float64Array(c.standardNormal.length))),
      c.standardNormal,
    );
  });
}

test("standard_normal(n) is n draws in a row: NumPy's one-at-a-time calls match standardNormal()", (t) => {
  const g = new NumpyGenerator(reference.scalarCalls.seed);
  t.deepEqual(
    reference.scalarCalls.draws.map(() => g.standardNormal()),
    reference.scalarCalls.draws,
  );
});

test("MuJoCo-style reset noise: uniform qpos then standard_normal qvel, resets in a row on one generator", (t) => {
  for (const { pattern, seed, ops } of reference.interleaved) {
    const g = new NumpyGenerator(seed);
    for (const [k, op] of ops.entries()) {
      const drawn = op.draws.map(() =>
        op.op === "uniform" ? g.uniform(op.low, op.high) : g.standardNormal(),
      );
      t.deepEqual(drawn, op.draws, `${pattern}, seed ${seed}, call ${k} (${op.op})`);
    }
  }
});

/** A block's float64s as little-endian bytes, as the recorder hashes NumPy's `<f8` array. */
function sha256(values: Float64Array): string {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return createHash("sha256").update(view).digest("hex");
}

test("a long standard_normal stream equals NumPy's: head, per-block digests, every tail draw", (t) => {
  const s = reference.stream;
  const draws = new NumpyGenerator(s.seed).standardNormalFill(new Float64Array(s.draws));
  t.deepEqual(Array.from(draws.subarray(0, s.head.length)), s.head);
  const blocks = s.blockSha256.map((digest, b) =>
    sha256(draws.subarray(b * s.blockSize, (b + 1) * s.blockSize)).startsWith(digest),
  );
  const matching = blocks.filter(Boolean).length;
  t.log(`${matching}/${blocks.length} blocks of ${s.blockSize} draws equal NumPy's`);
  t.deepEqual(
    blocks.flatMap((ok, b) => (ok ? [] : [b])),
    [],
    "blocks that differ",
  );
  t.is(sha256(draws), s.sha256);
  const large = Array.from(draws.entries()).filter(([, x]) => Math.abs(x) > s.largeAbove);
  t.deepEqual(large, s.large);
});

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
