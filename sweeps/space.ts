/**
 * Search spaces: one distribution per hyperparameter, and the two ways of turning a space into trial
 * configurations, an exact grid and seeded random draws.
 *
 * The distributions are Ray Tune's (`tune.grid_search`, `choice`, `uniform`, `loguniform`, `quniform`,
 * `randint`; https://docs.ray.io/en/latest/tune/api/search_space.html) written as W&B Sweeps writes
 * them in YAML (`values`, `distribution` bounds): one key per parameter naming its kind.
 * Draws use rl/'s xoshiro128** generator, so the same sampler seed draws the same trials anywhere.
 */
import type { Rng } from "../rl/core/rng.ts";

export type Distribution =
  /** A grid axis: with `method: grid` every value is tried; with `random` it is drawn like `choice`. */
  | { kind: "values"; values: unknown[] }
  /** One of the values, uniformly. */
  | { kind: "choice"; values: unknown[] }
  /** Uniform on [low, high). */
  | { kind: "uniform"; low: number; high: number }
  /** Log-uniform on [low, high): exp of a uniform on [ln low, ln high) (learning rates, coefficients). */
  | { kind: "loguniform"; low: number; high: number }
  /** Uniform on [low, high], rounded to a multiple of q (Ray's `quniform`: round(u / q) · q). */
  | { kind: "quniform"; low: number; high: number; q: number }
  /** An integer in [low, high), upper bound excluded (Ray's `randint`, numpy's `integers`). */
  | { kind: "randint"; low: number; high: number };

export type DistributionKind = Distribution["kind"];
export const DISTRIBUTION_KINDS: readonly DistributionKind[] = [
  "values",
  "choice",
  "uniform",
  "loguniform",
  "quniform",
  "randint",
];

export type SearchSpace = Record<string, Distribution>;
export type Params = Record<string, unknown>;

/** Multiples of q printed as a person would write them (0.3, not 0.30000000000000004). */
function roundToStep(x: number, q: number): number {
  const k = Math.round(x / q);
  return Number((k * q).toPrecision(12));
}

/** One draw from `d`. */
export function sample(d: Distribution, rng: Rng): unknown {
  switch (d.kind) {
    case "values":
    case "choice":
      return d.values[rng.int(d.values.length)];
    case "uniform":
      return rng.uniformRange(d.low, d.high);
    case "loguniform":
      return Math.exp(rng.uniformRange(Math.log(d.low), Math.log(d.high)));
    case "quniform":
      // Rounding may land a half-step outside; clamp to the nearest multiple inside the bounds.
      return Math.min(
        Math.max(roundToStep(rng.uniformRange(d.low, d.high), d.q), roundToStep(d.low, d.q)),
        roundToStep(d.high, d.q),
      );
    case "randint":
      return d.low + rng.int(d.high - d.low);
  }
}

/** Number of grid points: the product of the `values` axes' lengths (1 when there are none). */
export function gridSize(space: SearchSpace): number {
  let n = 1;
  for (const d of Object.values(space)) if (d.kind === "values") n *= d.values.length;
  return n;
}

/**
 * The grid: the cartesian product of the `values` axes, in the space's key order with the last key
 * varying fastest (as nested loops would). Parameters with any other distribution are drawn once per
 * grid point from `rng`, as Ray Tune does when a grid and distributions are mixed.
 */
export function expandGrid(space: SearchSpace, rng: Rng): Params[] {
  const keys = Object.keys(space);
  const axes = keys.filter((k) => space[k]!.kind === "values");
  const total = gridSize(space);
  const out: Params[] = [];
  for (let i = 0; i < total; i++) {
    const point: Params = {};
    let rest = i;
    for (let a = axes.length - 1; a >= 0; a--) {
      const d = space[axes[a]!] as { values: unknown[] };
      point[axes[a]!] = d.values[rest % d.values.length];
      rest = Math.floor(rest / d.values.length);
    }
    const params: Params = {};
    for (const k of keys) params[k] = k in point ? point[k] : sample(space[k]!, rng);
    out.push(params);
  }
  return out;
}

/** `n` independent draws of every parameter, in key order, from one generator. */
export function drawRandom(space: SearchSpace, n: number, rng: Rng): Params[] {
  const keys = Object.keys(space);
  return Array.from({ length: n }, () => {
    const params: Params = {};
    for (const k of keys) params[k] = sample(space[k]!, rng);
    return params;
  });
}

/** The bounds of a numeric distribution (PBT keeps perturbed values inside them); null for lists. */
export function boundsOf(d: Distribution): { low: number; high: number; integer: boolean } | null {
  switch (d.kind) {
    case "values":
    case "choice":
      return null;
    case "randint":
      return { low: d.low, high: d.high - 1, integer: true };
    case "quniform":
      return { low: d.low, high: d.high, integer: Number.isInteger(d.q) };
    default:
      return { low: d.low, high: d.high, integer: false };
  }
}
