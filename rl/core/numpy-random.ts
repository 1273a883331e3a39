/**
 * Gymnasium's environment generator, draw for draw: `gymnasium.utils.seeding.np_random(seed)` is
 * `np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))`, and the classic-control envs
 * draw their initial states with `Generator.uniform`. Reproducing it makes `reset({seed})` give
 * exactly the initial state a Python user gets from `reset(seed=…)`, so an evaluation on seeds 0…N
 * here is the same evaluation there. (Training's own randomness — action sampling, minibatch
 * shuffles — stays on the project's faster xoshiro generator, rl/core/rng.ts.)
 *
 * Sources, NumPy 2.x:
 * - SeedSequence: `numpy/random/bit_generator.pyx` (`hashmix`, `mix`, `mix_entropy`,
 *   `generate_state`; O'Neill's "Developing a seed_seq alternative", 2015);
 * - PCG64: `numpy/random/src/pcg64/pcg64.h` (`pcg_setseq_128_srandom_r`, the XSL-RR 128/64 output
 *   `pcg_output_xsl_rr_128_64`, step-then-output in `pcg64_random_r`), seeded as
 *   `_pcg64.pyx` does: `generate_state(4, uint64)`, words 0–1 the state, 2–3 the increment;
 * - `next_double`: `(next_uint64 >> 11) * 2**-53` (`numpy/random/_common.pxd`), and
 *   `Generator.uniform(low, high)` = `low + (high - low) * next_double` (`random_uniform` in
 *   `distributions.c`).
 * - `Generator.standard_normal`: the 256-layer ziggurat `random_standard_normal` in `distributions.c`
 *   with the tables of `ziggurat_constants.h` (rl/core/ziggurat-tables.ts); `standard_normal(n)` is
 *   `random_standard_normal_fill`, n draws in a row.
 * Checked against draws recorded from NumPy itself (test/rl/numpy-random.test.ts).
 *
 * The 128-bit arithmetic uses BigInt: a reset draws a handful of numbers, so clarity wins over speed.
 */

import { FI_DOUBLE, KI_DOUBLE, WI_DOUBLE, ZIGGURAT_NOR_INV_R, ZIGGURAT_NOR_R } from "./ziggurat-tables.ts";

const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const POOL_SIZE = 4;

const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULTIPLIER_128 = 0x2360ed051fc65da44385df649fccf645n;
const TWO_POW_M53 = 1 / 9007199254740992;
const TWO_POW_23 = 0x800000;

/** The largest seed accepted: JavaScript numbers are exact integers up to 2^53 − 1. */
export const MAX_NUMPY_SEED = Number.MAX_SAFE_INTEGER;

/** A non-negative integer seed as NumPy's `_coerce_to_uint32_array` splits it: 32-bit words, least significant first. */
function seedWords(seed: number): number[] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be an integer in [0, 2^53 - 1], got ${seed}`);
  }
  const words = [seed % 0x100000000];
  const high = Math.floor(seed / 0x100000000);
  if (high > 0) words.push(high);
  return words;
}

/** SeedSequence's entropy pool (4 uint32 words) for an integer seed. */
export function seedSequencePool(seed: number): Uint32Array {
  const entropy = seedWords(seed);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    let v = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    v = Math.imul(v, hashConst) >>> 0;
    return (v ^ (v >>> XSHIFT)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> XSHIFT)) >>> 0;
  };
  const pool = new Uint32Array(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0);
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
    }
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  }
  return pool;
}

/** `SeedSequence.generate_state(nWords, uint32)` from a pool. */
export function generateState(pool: Uint32Array, nWords: number): Uint32Array {
  let hashConst = INIT_B;
  const out = new Uint32Array(nWords);
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % pool.length] ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_B) >>> 0;
    v = Math.imul(v, hashConst) >>> 0;
    out[i] = (v ^ (v >>> XSHIFT)) >>> 0;
  }
  return out;
}

/** Serializable PCG64 state: the 128-bit state and increment as decimal strings (NumPy's `bit_generator.state`). */
export interface Pcg64State {
  state: string;
  inc: string;
}

/** NumPy's PCG64 bit generator (XSL-RR 128/64). */
export class Pcg64 {
  private state = 0n;
  private inc = 1n;

  /** Seeded as `PCG64(SeedSequence(seed))`. */
  static fromSeed(seed: number): Pcg64 {
    const words = generateState(seedSequencePool(seed), 8);
    // generate_state(4, uint64) views the uint32 words as little-endian uint64 pairs.
    const u64 = (k: number) => (BigInt(words[2 * k + 1]) << 32n) | BigInt(words[2 * k]);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    const g = new Pcg64();
    // pcg_setseq_128_srandom_r
    g.state = 0n;
    g.inc = ((initSeq << 1n) | 1n) & MASK128;
    g.step();
    g.state = (g.state + initState) & MASK128;
    g.step();
    return g;
  }

  static fromState(s: Pcg64State): Pcg64 {
    const g = new Pcg64();
    g.setState(s);
    return g;
  }

  private step(): void {
    this.state = (this.state * PCG_MULTIPLIER_128 + this.inc) & MASK128;
  }

  /** `pcg64_random_r`: advance, then the XSL-RR output of the new state. */
  nextUint64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & MASK64;
    const rot = Number(s >> 122n);
    return ((x >> BigInt(rot)) | (x << BigInt((64 - rot) & 63))) & MASK64;
  }

  /** NumPy's `next_double`: 53 random bits in [0, 1). */
  nextDouble(): number {
    return Number(this.nextUint64() >> 11n) * TWO_POW_M53;
  }

  getState(): Pcg64State {
    return { state: this.state.toString(), inc: this.inc.toString() };
  }

  setState(s: Pcg64State): void {
    let state: bigint;
    let inc: bigint;
    try {
      state = BigInt(s.state);
      inc = BigInt(s.inc);
    } catch {
      throw new RangeError("PCG64 state must hold decimal integers state and inc");
    }
    if (state < 0n || state > MASK128 || inc < 0n || inc > MASK128 || (inc & 1n) === 0n) {
      throw new RangeError("PCG64 state must be 128-bit, with an odd increment");
    }
    this.state = state;
    this.inc = inc;
  }
}

/** `numpy.random.Generator` over PCG64, with the draws Gymnasium's environments use. */
export class NumpyGenerator {
  private bitGen: Pcg64;

  constructor(seed = 0) {
    this.bitGen = Pcg64.fromSeed(seed);
  }

  /** Re-seeds in place, as `np_random(seed)` makes a fresh generator. */
  seed(seed: number): void {
    this.bitGen = Pcg64.fromSeed(seed);
  }

  /** `Generator.random()`: a float64 in [0, 1). */
  random(): number {
    return this.bitGen.nextDouble();
  }

  /**
   * `Generator.uniform(low, high)` for one element: `low + (high - low) * next_double`. NumPy computes
   * `high - low` once per element in float64 (broadcast arrays) or once for scalars; either way it is
   * the same float64 difference.
   */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.bitGen.nextDouble();
  }

  /**
   * `Generator.standard_normal()`: `random_standard_normal` (NumPy's `distributions.c`), Marsaglia &
   * Tsang's ziggurat with 256 layers. One `next_uint64` r is read as `e3n52sb8`: bits 0–7 pick the
   * layer, bit 8 the sign, bits 9–60 the 52-bit magnitude `rabs`. The magnitude splits into two
   * uint32 words so that the per-draw arithmetic stays in float64 numbers (rabs < 2^53 is exact, and
   * so are the `ki_double` bounds): no BigInt beyond the bit generator's own.
   *
   * About 99.3% of draws return from the first comparison. The rest test a wedge with `exp` or, in
   * layer 0, sample the tail beyond r with `log1p`; C calls glibc's `exp`/`log1p` there, this calls
   * V8's `Math.exp`/`Math.log1p` (fdlibm ports). Both are within an ulp, not always the same ulp:
   * on the ziggurat's own argument ranges, 9.3% of `exp` and 0.073% of `log1p` values differ by one
   * ulp (10^7 arguments each, glibc 2.36, scripts/reference/numpy-normal-agreement.ts). In a wedge,
   * a differing `exp` changes the outcome only if the uniform side lands between the two values
   * (under 10^-14 per wedge test); a flip would shift the rest of the stream. In the tail
   * (1 draw in 3,900) the value is r + xx with xx from `log1p`, and rounding the sum hides most
   * differences: 0.003% of tail draws would differ, about one draw in 130 million. Measured: 10^7 draws
   * of NumPy 2.4.6 (2,560 of them in the tail) all bit-equal.
   */
  standardNormal(): number {
    for (;;) {
      const r = this.bitGen.nextUint64();
      const lo = Number(BigInt.asUintN(32, r));
      const hi = Number(r >> 32n);
      const idx = lo & 0xff;
      const negative = (lo >>> 8) & 1;
      // (r >> 9) & (2^52 - 1): 23 bits from the low word, 29 from the high one.
      const rabs = (hi & 0x1fffffff) * TWO_POW_23 + (lo >>> 9);
      let x = rabs * WI_DOUBLE[idx];
      if (negative) x = -x;
      if (rabs < KI_DOUBLE[idx]) return x;
      if (idx === 0) return this.normalTail((lo >>> 17) & 1);
      const u = this.bitGen.nextDouble();
      if ((FI_DOUBLE[idx - 1] - FI_DOUBLE[idx]) * u + FI_DOUBLE[idx] < Math.exp(-0.5 * x * x)) return x;
    }
  }

  /**
   * Layer 0's tail beyond r = `ziggurat_nor_r` (Marsaglia's method, as in `random_standard_normal`):
   * the sign is bit 8 of `rabs`, and `log1p(-u)` rather than `log(u)` avoids log(0) (NumPy GH 13361).
   */
  private normalTail(negative: number): number {
    for (;;) {
      const xx = -ZIGGURAT_NOR_INV_R * Math.log1p(-this.bitGen.nextDouble());
      const yy = -Math.log1p(-this.bitGen.nextDouble());
      if (yy + yy > xx * xx) return negative ? -(ZIGGURAT_NOR_R + xx) : ZIGGURAT_NOR_R + xx;
    }
  }

  /** `Generator.standard_normal(out.length)` into `out`: `random_standard_normal_fill`, draws in order. */
  standardNormalFill(out: Float64Array): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.standardNormal();
    return out;
  }

  getState(): Pcg64State {
    return this.bitGen.getState();
  }

  setState(s: Pcg64State): void {
    this.bitGen.setState(s);
  }
}
