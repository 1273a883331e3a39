/**
 * How a sweep's numbers and decisions read, the same in the dashboard and the CLI: a random draw of
 * a learning rate is 0.0002346, not 0.00023456789012345678; a trial ASHA stopped on a tie says so
 * rather than "500 < 500".
 */

/** Significant digits a drawn hyperparameter is shown with. */
export const PARAM_DIGITS = 4;

/**
 * `x` to `digits` significant digits, trailing zeros dropped (0.00023456789 → "0.0002346",
 * 3.14159 → "3.142"); integers stay whole (a grid's 2048 or a seed), since rounding them would show
 * a value the trial did not use.
 */
export function significant(x: number, digits = PARAM_DIGITS): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(digits)));
}

/** A hyperparameter's value: numbers to significant digits, lists item by item, anything else as JSON. */
export function formatParam(value: unknown): string {
  if (typeof value === "number") return significant(value);
  if (Array.isArray(value)) return `[${value.map(formatParam).join(", ")}]`;
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
}

/** A trial's parameters as `name=value` pairs. */
export function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([name, value]) => `${name}=${formatParam(value)}`)
    .join(", ");
}

export interface PrunedAt {
  rung: number;
  value: number | null;
  cutoff: number | null;
}

/**
 * Why ASHA stopped a trial at a rung (sweeps/asha.ts): its value missed the cut, or equalled it and
 * arrived after the trials holding the kept places (ties go by arrival; ASHA keeps the first ⌈n/η⌉).
 * `format` writes the values (the dashboard's and the CLI's own number formats).
 */
export function prunedReason(p: PrunedAt, mode: "max" | "min", format: (x: number | null) => string): string {
  if (p.value === null) return `no result at the rung yet; the cut was ${format(p.cutoff)}`;
  if (p.cutoff === null) return `${format(p.value)}; the trials kept at the rung had no result`;
  if (p.value === p.cutoff) {
    return `tied with the cut at ${format(p.value)}, later arrival: ASHA keeps the first ⌈n/η⌉ to reach the rung`;
  }
  return `${format(p.value)} ${mode === "max" ? "<" : ">"} cut ${format(p.cutoff)}`;
}
