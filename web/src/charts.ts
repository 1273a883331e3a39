import uPlot from "uplot";
import { h } from "./dom.ts";

/**
 * Metric charts (uPlot: canvas, ~50 KB, fast on thousands of points). Points are kept by iteration,
 * so that a point received twice (live, then again in the history fetched after a reconnect, or an
 * iteration replayed after a failover) is stored once and the newer copy wins.
 */
export interface MetricPoint {
  iteration: number;
  globalStep: number;
  metrics: Record<string, number | null>;
}

export interface SeriesSpec {
  key: string;
  label: string;
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"];

export class PointStore {
  readonly points = new Map<number, MetricPoint>();
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  add(point: MetricPoint): void {
    this.points.set(point.iteration, point);
    this.changed();
  }

  addAll(points: readonly MetricPoint[]): void {
    for (const p of points) this.points.set(p.iteration, p);
    this.changed();
  }

  get lastIteration(): number {
    let last = 0;
    for (const i of this.points.keys()) last = Math.max(last, i);
    return last;
  }

  sorted(): MetricPoint[] {
    return [...this.points.values()].sort((a, b) => a.iteration - b.iteration);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Coalesces a burst of points (a history page) into one redraw per frame. */
  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }
}

export class MetricChart {
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly summary: HTMLElement;
  private readonly observer: ResizeObserver;

  constructor(
    private readonly title: string,
    private readonly series: SeriesSpec[],
    opts: { xLabel?: string; logY?: boolean } = {},
  ) {
    const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    const holder = h("div", { class: "chart-canvas" });
    this.summary = h("p", { class: "chart-summary", "aria-live": "off" });
    this.element = h(
      "figure",
      { class: "chart", "data-chart": slug, "data-points": "0" },
      h("figcaption", null, title),
      holder,
      this.summary,
    );
    this.plot = new uPlot(
      {
        width: 400,
        height: 200,
        legend: { show: series.length > 1 },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: false } },
        axes: [
          { label: opts.xLabel ?? "env steps", size: 40, values: (_u, ticks) => ticks.map(compact) },
          { size: 56, values: (_u, ticks) => ticks.map(compact) },
        ],
        series: [
          { label: opts.xLabel ?? "step" },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      [[], ...series.map(() => [])],
      holder,
    );
    this.observer = new ResizeObserver(() => this.resize(holder));
    this.observer.observe(holder);
  }

  update(points: readonly MetricPoint[]): void {
    const xs = points.map((p) => p.globalStep);
    const ys = this.series.map((s) => points.map((p) => p.metrics[s.key] ?? null));
    this.plot.setData([xs, ...ys] as uPlot.AlignedData);
    const first = ys[0] ?? [];
    const count = first.filter((v) => v !== null).length;
    const latest = [...first].reverse().find((v) => v !== null);
    this.element.dataset["points"] = String(count);
    this.element.dataset["iterations"] = String(points.length);
    this.summary.textContent =
      count === 0
        ? `${this.title}: no points yet`
        : `${this.title}: ${count} points, latest ${compact(latest ?? null)}`;
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }

  private resize(holder: HTMLElement): void {
    const width = Math.max(200, Math.floor(holder.clientWidth));
    if (width !== this.plot.width) this.plot.setSize({ width, height: 200 });
  }
}

export function compact(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  if (abs > 0 && abs < 1e-3) return value.toExponential(0);
  return String(Number(value.toPrecision(3)));
}

/** A scatter of one metric against one hyperparameter (the sweeps page). */
export function scatterChart(
  title: string,
  xLabel: string,
  points: { x: number; y: number; pruned: boolean }[],
): HTMLElement {
  const holder = h("div", { class: "chart-canvas" });
  const element = h(
    "figure",
    { class: "chart", "data-chart": title.toLowerCase().replace(/[^a-z0-9]+/g, "-") },
    h("figcaption", null, title),
    holder,
  );
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const xs = sorted.map((p) => p.x);
  const kept = sorted.map((p) => (p.pruned ? null : p.y));
  const pruned = sorted.map((p) => (p.pruned ? p.y : null));
  const plot = new uPlot(
    {
      width: 320,
      height: 200,
      scales: { x: { time: false } },
      axes: [{ label: xLabel, size: 40, values: (_u, t) => t.map(compact) }, { size: 56 }],
      series: [
        { label: xLabel },
        { label: "trial", stroke: COLORS[0], paths: () => null, points: { show: true, size: 7 } },
        { label: "pruned", stroke: "#9ca3af", paths: () => null, points: { show: true, size: 7 } },
      ],
    },
    [xs, kept, pruned] as uPlot.AlignedData,
    holder,
  );
  new ResizeObserver(() => {
    const width = Math.max(200, Math.floor(holder.clientWidth));
    if (width !== plot.width) plot.setSize({ width, height: 200 });
  }).observe(holder);
  return element;
}
