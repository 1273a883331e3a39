/**
 * ASHA, the Asynchronous Successive Halving Algorithm: Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur,
 * Hardt, Recht, Talwalkar, "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020
 * (arXiv:1810.05934).
 *
 * Rungs are resource levels, here env steps: r·η^k for k = 0, 1, … below the trial budget (§3.2,
 * minimum resource r = the grace period, reduction factor η). Successive halving keeps the top 1/η
 * of the trials at each rung. ASHA's point is to decide without waiting for a rung to fill: a trial
 * is judged against the trials that have reached that rung so far (Algorithm 2). We use its stopping
 * form, as Ray Tune's ASHAScheduler does, since a run is cheaper to stop than to pause: when a trial
 * reaches rung k with value v, and n trials (it included) have reached rung k, it continues iff its
 * rank among them is within the top ⌈n/η⌉. Ranks order by value, and equal values by arrival: the
 * trials already at the rung hold their places, so a trial that only ties them does not push in (on a
 * capped metric such as CartPole's 500, every trial that reaches the cap would otherwise continue, and
 * nothing would be stopped). The first trial at a rung always continues; with distinct values this is
 * the same cut as Ray's `nanpercentile(recorded, (1 - 1/η)·100)`.
 */
export type Mode = "max" | "min";

export interface AshaOptions {
  gracePeriod: number;
  reductionFactor: number;
  /** Explicit rungs in env steps (increasing); by default gracePeriod · η^k. */
  rungs?: number[];
}

/** The rungs (env steps) strictly below `totalSteps`. */
export function ashaRungs(o: AshaOptions, totalSteps: number): number[] {
  if (o.rungs) return o.rungs.filter((r) => r < totalSteps);
  const out: number[] = [];
  for (let r = o.gracePeriod; r < totalSteps; r *= o.reductionFactor) out.push(Math.round(r));
  return out;
}

/** `a` is strictly better than `b`; a missing value (no finished episode yet) is worse than any value. */
export function better(a: number | null, b: number | null, mode: Mode): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return mode === "max" ? a > b : a < b;
}

export interface RungDecision {
  continue: boolean;
  /** How many of the n trials at the rung may continue: ⌈n/η⌉. */
  keep: number;
  /** Trials at the rung, this one included. */
  n: number;
  /** The value a trial must match to continue: the keep-th best at the rung (null if that is missing). */
  cutoff: number | null;
}

/**
 * The decision for a trial that has just reached a rung with `value`, given the values recorded at
 * that rung by the trials that reached it before (`earlier`).
 */
export function ashaDecide(
  earlier: readonly (number | null)[],
  value: number | null,
  reductionFactor: number,
  mode: Mode,
): RungDecision {
  const all = [...earlier, value];
  const n = all.length;
  const keep = Math.ceil(n / reductionFactor);
  // Strictly better earlier values, and equal ones (they arrived first): the trial's rank is this + 1.
  const ahead = earlier.filter((u) => !better(value, u, mode)).length;
  const sorted = [...all].sort((a, b) => (better(a, b, mode) ? -1 : better(b, a, mode) ? 1 : 0));
  return { continue: ahead < keep, keep, n, cutoff: sorted[keep - 1] ?? null };
}

/** One stored point of a trial's curve, as the actor reads it. */
export interface CurvePoint {
  globalStep: number;
  value: number | null;
}

/**
 * A trial's value at a rung: the metric of its first point at or past the rung's step; when that
 * point has none (no episode finished in the iteration), the latest value before it. Null while the
 * curve has not reached the rung.
 */
export function valueAtRung(points: readonly CurvePoint[], rung: number): { value: number | null } | null {
  const at = points.findIndex((p) => p.globalStep >= rung);
  if (at < 0) return null;
  for (let i = at; i >= 0; i--) if (points[i]!.value !== null) return { value: points[i]!.value };
  return { value: null };
}

/**
 * The values recorded at each rung of one sweep, in the order trials reached it. A re-activated
 * sweep restores them from its trials' stored rung values; the order of earlier arrivals does not
 * change a later decision (only their values count).
 */
export class AshaBracket {
  private readonly recorded = new Map<number, (number | null)[]>();

  constructor(
    readonly rungs: readonly number[],
    readonly reductionFactor: number,
    readonly mode: Mode,
  ) {}

  /** A value recorded before (re-activation); no decision. */
  restore(rung: number, value: number | null): void {
    this.valuesAt(rung).push(value);
  }

  /** A trial reaches `rung` with `value`: the decision, and the value is recorded. */
  reach(rung: number, value: number | null): RungDecision {
    const earlier = this.valuesAt(rung);
    const decision = ashaDecide(earlier, value, this.reductionFactor, this.mode);
    earlier.push(value);
    return decision;
  }

  private valuesAt(rung: number): (number | null)[] {
    let values = this.recorded.get(rung);
    if (!values) {
      values = [];
      this.recorded.set(rung, values);
    }
    return values;
  }
}
