/**
 * Action and observation spaces, after Gymnasium's `spaces.Discrete` and `spaces.Box`
 * (https://gymnasium.farama.org/api/spaces/fundamental/). Box bounds are float32, as the
 * classic-control environments declare them (`dtype=np.float32`).
 */

import type { Rng } from "./rng.ts";
import type { BoxSpace, DiscreteSpace, JsonSpace, Space } from "./types.ts";

export function discrete(n: number): DiscreteSpace {
  if (!Number.isInteger(n) || n <= 0)
    throw new RangeError(`Discrete(n) needs a positive integer n, got ${n}`);
  return Object.freeze({ kind: "discrete", n });
}

/**
 * A box with per-dimension bounds. Scalar bounds are broadcast over `shape` (as in
 * `Box(low=-1.0, high=1.0, shape=(1,))`); array bounds give the shape when it is omitted.
 */
export function box(
  low: number | ArrayLike<number>,
  high: number | ArrayLike<number>,
  shape?: readonly number[],
): BoxSpace {
  const resolved = shape ?? inferShape(low, high);
  if (resolved.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new RangeError(`Box shape must be positive integers, got [${resolved.join(", ")}]`);
  }
  const size = resolved.reduce((a, b) => a * b, 1);
  const lo = broadcast(low, size, "low");
  const hi = broadcast(high, size, "high");
  for (let i = 0; i < size; i++) {
    if (Number.isNaN(lo[i]) || Number.isNaN(hi[i]) || lo[i] > hi[i]) {
      throw new RangeError(
        `Box bounds must satisfy low <= high, got low[${i}]=${lo[i]}, high[${i}]=${hi[i]}`,
      );
    }
  }
  return Object.freeze({ kind: "box", shape: Object.freeze([...resolved]), low: lo, high: hi });
}

function inferShape(low: number | ArrayLike<number>, high: number | ArrayLike<number>): number[] {
  if (typeof low !== "number") return [low.length];
  if (typeof high !== "number") return [high.length];
  throw new RangeError("Box with scalar bounds needs an explicit shape");
}

function broadcast(bound: number | ArrayLike<number>, size: number, name: string): Float32Array {
  if (typeof bound === "number") return new Float32Array(size).fill(bound);
  if (bound.length !== size)
    throw new RangeError(`Box ${name} has ${bound.length} values, shape needs ${size}`);
  return Float32Array.from(bound);
}

/**
 * Membership as Gymnasium's `Space.contains`: for Discrete an integer in [0, n); for Box an array of
 * the right length whose values, as float32, lie within [low, high] (NaN is never contained).
 */
export function contains(space: Space, action: unknown): boolean {
  if (space.kind === "discrete") {
    return typeof action === "number" && Number.isInteger(action) && action >= 0 && action < space.n;
  }
  if (!isNumericArray(action) || action.length !== space.low.length) return false;
  for (let i = 0; i < action.length; i++) {
    const v = Math.fround(action[i]);
    if (!(v >= space.low[i] && v <= space.high[i])) return false;
  }
  return true;
}

function isNumericArray(x: unknown): x is ArrayLike<number> {
  if (x instanceof Float32Array || x instanceof Float64Array) return true;
  return Array.isArray(x) && x.every((v) => typeof v === "number");
}

/**
 * A uniform sample, as Gymnasium's `sample()`: Discrete uniform over {0..n-1}; Box uniform on
 * bounded dimensions, exponential on half-bounded ones and standard normal on unbounded ones
 * (gymnasium/spaces/box.py `Box.sample`).
 */
export function sample(space: DiscreteSpace, rng: Rng): number;
export function sample(space: BoxSpace, rng: Rng): Float32Array;
export function sample(space: Space, rng: Rng): number | Float32Array;
export function sample(space: Space, rng: Rng): number | Float32Array {
  if (space.kind === "discrete") return rng.int(space.n);
  const out = new Float32Array(space.low.length);
  for (let i = 0; i < out.length; i++) {
    const lo = space.low[i];
    const hi = space.high[i];
    const loFinite = Number.isFinite(lo);
    const hiFinite = Number.isFinite(hi);
    let v: number;
    if (loFinite && hiFinite) v = rng.uniformRange(lo, hi);
    else if (loFinite) v = lo + exponential(rng);
    else if (hiFinite) v = hi - exponential(rng);
    else v = rng.normal();
    // float32 rounding can step just past a bound; clamp as Gymnasium does after its cast.
    out[i] = Math.min(Math.max(v, lo), hi);
  }
  return out;
}

function exponential(rng: Rng): number {
  return -Math.log(1 - rng.uniform());
}

/**
 * Gymnasium's `spaces.flatdim`: the length of the flattened (one-hot for Discrete) representation,
 * i.e. n for Discrete(n) — the number of logits a categorical policy needs — and the product of the
 * shape for Box.
 */
export function flatDim(space: Space): number {
  return space.kind === "discrete" ? space.n : space.low.length;
}

/** Numbers per action in a batch: 1 (the index) for Discrete, the product of the shape for Box. */
export function actionDim(space: Space): number {
  return space.kind === "discrete" ? 1 : space.low.length;
}

/** The shortest decimal that reads back as the same float32 (0.4, not 0.4000000059604645). */
function float32String(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  for (let digits = 1; digits < 9; digits++) {
    const short = Number(v.toPrecision(digits));
    if (Math.fround(short) === v) return String(short);
  }
  return String(v);
}

/**
 * A space as Gymnasium's repr writes it: `Discrete(2)`, `Box(-0.4, 0.4, (17,))` when every bound is
 * the same (Humanoid's 17 actuators would otherwise fill a line), else the bounds element by element.
 */
export function describeSpace(space: Space): string {
  if (space.kind === "discrete") return `Discrete(${space.n})`;
  const uniform = (a: Float32Array) => a.every((v) => v === a[0]);
  const fmt = (a: Float32Array) =>
    a.length > 0 && uniform(a) ? float32String(a[0]!) : `[${Array.from(a, float32String).join(", ")}]`;
  const shape = space.shape.length === 1 ? `(${space.shape[0]},)` : `(${space.shape.join(", ")})`;
  return `Box(${fmt(space.low)}, ${fmt(space.high)}, ${shape})`;
}

/** A space from its JSON form (null bounds are infinite); throws RangeError when it is not a valid space. */
export function spaceFromJson(json: JsonSpace): Space {
  if (json.kind === "discrete") return discrete(json.n);
  const bound = (values: (number | null)[], infinite: number) =>
    values.map((v) => (v === null ? infinite : v));
  return box(bound(json.low, -Infinity), bound(json.high, Infinity), json.shape);
}

/** The JSON form of a space: infinite Box bounds become null. */
export function spaceToJson(space: Space): JsonSpace {
  if (space.kind === "discrete") return { kind: "discrete", n: space.n };
  const bound = (values: Float32Array) => Array.from(values, (v) => (Number.isFinite(v) ? v : null));
  return { kind: "box", shape: [...space.shape], low: bound(space.low), high: bound(space.high) };
}
