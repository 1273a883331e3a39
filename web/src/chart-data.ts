/**
 * The arithmetic behind the dashboard's charts, kept free of the DOM and of uPlot so that it is
 * unit-tested in Node (test/web/chart-data.test.ts): smoothing, aligning several runs on one x axis,
 * what a log axis does with values ≤ 0, the hover read-out's nearest value, and the long CSV of a
 * comparison.
 */

/** What the x axis measures: env steps, the clock (Unix seconds), or seconds since a run's first point. */
export type XMode = "step" | "wall" | "relative";
export const X_MODES: readonly XMode[] = ["step", "wall", "relative"];

export function isXMode(value: unknown): value is XMode {
  return typeof value === "string" && (X_MODES as readonly string[]).includes(value);
}

/** A stored metric point as GET /runs/:id/metrics answers it; live points carry their arrival time. */
export interface SeriesPoint {
  iteration: number;
  globalStep: number;
  wallTime?: string;
  metrics: Record<string, number | null>;
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's moments, so that the
 * first points are not dragged towards 0 (tensorboard/components/vz_line_chart2/line-chart.ts,
 * `resmoothDataset`): last = last·w + (1−w)·v, shown as last / (1 − wⁿ) after n finite values.
 * Missing values stay missing and do not count in n; a constant series is returned as it is (as
 * TensorBoard does, so that float error does not wiggle a flat line).
 */
export function smoothEma(values: readonly (number | null)[], weight: number): (number | null)[] {
  const w = Math.min(Math.max(weight, 0), 1);
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const constant = finite.every((v) => v === finite[0]);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v) || constant || w === 0) return v;
    last = last * w + (1 - w) * v;
    n++;
    return w === 1 ? last : last / (1 - w ** n);
  });
}

/**
 * The x of each point in `mode`. Wall time is Unix seconds (uPlot's time unit); relative time counts
 * from the run's first point, so that runs started on different days start together.
 */
export function xValues(points: readonly SeriesPoint[], mode: XMode): number[] {
  if (mode === "step") return points.map((p) => p.globalStep);
  const secs = points.map((p) => (p.wallTime ? Date.parse(p.wallTime) / 1000 : Number.NaN));
  if (mode === "wall") return secs;
  const origin = secs.find(Number.isFinite) ?? 0;
  return secs.map((s) => s - origin);
}

export interface Aligned {
  xs: number[];
  ys: (number | null)[][];
  /** Per series, the row of each of its points (-1: left out), to place values derived from them. */
  rows: number[][];
}

/**
 * uPlot draws series that share one x array: several runs' (x, y) lists become one sorted x array,
 * the union of theirs, with null where a run has no point. A run with two points at the same x
 * (a replayed iteration) keeps the later one, unless `repeats` is set: a scatter's points (trials
 * that share a hyperparameter value) each get a row of their own. Points whose x is not finite are
 * left out.
 */
export function alignSeries(
  series: readonly { x: readonly number[]; y: readonly (number | null)[] }[],
  repeats = false,
): Aligned {
  const rows: number[][] = series.map((s) => new Array(s.x.length).fill(-1));
  let xs: number[];
  if (repeats) {
    const points = series.flatMap((s, k) => s.x.flatMap((x, i) => (Number.isFinite(x) ? [{ x, k, i }] : [])));
    points.sort((a, b) => a.x - b.x);
    points.forEach((p, row) => {
      rows[p.k]![p.i] = row;
    });
    xs = points.map((p) => p.x);
  } else {
    const all = new Set<number>();
    for (const s of series) for (const x of s.x) if (Number.isFinite(x)) all.add(x);
    xs = [...all].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    series.forEach((s, k) => {
      s.x.forEach((x, i) => {
        rows[k]![i] = index.get(x) ?? -1;
      });
    });
  }
  const ys = series.map((s, k) => place(s.y, rows[k]!, xs.length));
  return { xs, ys, rows };
}

/** A series' values put in their aligned rows (null elsewhere); a later point wins a shared row. */
export function place(
  values: readonly (number | null)[],
  rows: readonly number[],
  length: number,
): (number | null)[] {
  const out: (number | null)[] = new Array(length).fill(null);
  rows.forEach((row, i) => {
    if (row >= 0) out[row] = values[i] ?? null;
  });
  return out;
}

/**
 * A log axis cannot place 0 or a negative number. Like TensorBoard's log scale, such values are not
 * drawn (the line breaks there) rather than clamped to an invented floor, and the chart says how
 * many it left out, so nothing is hidden silently.
 */
export function forLogScale(values: readonly (number | null)[]): {
  values: (number | null)[];
  hidden: number;
} {
  let hidden = 0;
  const out = values.map((v) => {
    if (v !== null && v <= 0) {
      hidden++;
      return null;
    }
    return v;
  });
  return { values: out, hidden };
}

/** The index of the value nearest to `at` that is not null (the hover read-out of a sparse series). */
export function nearestIndex(values: readonly (number | null)[], at: number): number | null {
  for (let d = 0; d < values.length; d++) {
    const left = at - d;
    const right = at + d;
    if (left >= 0 && left < values.length && values[left] !== null && values[left] !== undefined) return left;
    if (right >= 0 && right < values.length && values[right] !== null && values[right] !== undefined)
      return right;
  }
  return null;
}

/** The index of the last value that is not null. */
export function lastIndex(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return i;
  return null;
}

/** Every metric key that any point of any run has, sorted. */
export function metricKeys(runs: readonly (readonly SeriesPoint[])[]): string[] {
  const keys = new Set<string>();
  for (const points of runs) for (const p of points) for (const k of Object.keys(p.metrics)) keys.add(k);
  return [...keys].sort();
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * A comparison's data as one long ("tidy") CSV: a row per run, point and metric key — the shape
 * pandas, R and spreadsheets pivot from. Rows go by run (in the order given), iteration, then key;
 * a null value is a missing observation and has no row. Numbers are written as JavaScript prints
 * them, the shortest text that reads back to the same double, so the file holds the API's values
 * exactly.
 */
export function longCsv(runs: readonly { run: string; points: readonly SeriesPoint[] }[]): string {
  const lines = ["run,step,key,value"];
  for (const { run, points } of runs) {
    const sorted = [...points].sort((a, b) => a.iteration - b.iteration);
    for (const p of sorted) {
      for (const key of Object.keys(p.metrics).sort()) {
        const value = p.metrics[key];
        if (value === null || value === undefined) continue;
        lines.push([csvField(run), String(p.globalStep), csvField(key), String(value)].join(","));
      }
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** A number in three significant figures, thousands and millions as k and M (legends, log axes). */
export function compact(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "";
  const abs = Math.abs(value);
  const three = (v: number) => String(Number(v.toPrecision(3)));
  if (abs >= 1e6) return `${three(value / 1e6)}M`;
  if (abs >= 1e4) return `${three(value / 1e3)}k`;
  if (abs > 0 && abs < 1e-3) return Number(value.toPrecision(3)).toExponential();
  return three(value);
}

/**
 * A linear axis's tick labels, as many decimals as the tick step has, so that close ticks (an
 * entropy moving in its fourth decimal) never print the same label twice; large values as k and M,
 * tiny steps in exponent form.
 */
export function tickLabels(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 0;
  return ticks.map((v) => {
    if (v === null || !Number.isFinite(v)) return "";
    if (step === 0 || (Math.abs(v) >= 1e4 && step >= 100)) return compact(v);
    if (step < 1e-4) {
      const digits = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v))) - Math.floor(Math.log10(step));
      return v === 0 ? "0" : v.toExponential(Math.min(Math.max(digits, 0), 12));
    }
    const decimals = (String(Number(step.toPrecision(6))).split(".")[1] ?? "").length;
    return v.toFixed(decimals);
  });
}

/** A duration in seconds as a person reads it on an axis: 45s, 12m, 1.5h, 2.1d. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  const sign = seconds < 0 ? "−" : "";
  const s = Math.abs(seconds);
  const round = (v: number) => String(Number(v.toPrecision(3)));
  if (s < 60) return `${sign}${round(s)}s`;
  if (s < 3600) return `${sign}${round(s / 60)}m`;
  if (s < 86_400) return `${sign}${round(s / 3600)}h`;
  return `${sign}${round(s / 86_400)}d`;
}

/** Whether a sweep's search-space entry samples on a log scale (its values are best read on a log axis). */
export function isLogSampled(spec: unknown): boolean {
  if (typeof spec !== "object" || spec === null) return false;
  return "loguniform" in spec || (spec as { kind?: unknown }).kind === "loguniform";
}
