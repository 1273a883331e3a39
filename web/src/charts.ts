import uPlot from "uplot";
import {
  alignSeries,
  compact,
  forLogScale,
  formatDuration,
  lastIndex,
  nearestIndex,
  place,
  type SeriesPoint,
  smoothEma,
  tickLabels,
  type XMode,
} from "./chart-data.ts";
import { h } from "./dom.ts";

/**
 * The dashboard's one chart (uPlot: canvas, ~50 KB, fast on thousands of points), used by the run
 * page, the sweep page and the compare page: any number of curves on shared axes, one colour and
 * legend entry each, a second y axis for a curve of another magnitude, TensorBoard's smoothing with
 * the raw curve faint behind, linear or log y, x as env steps, wall time, time since the start or a
 * plain value (a hyperparameter, linear or log), and a legend that reads every curve at the hovered
 * x (the latest values when nothing is hovered).
 */
export type MetricPoint = SeriesPoint;

/** One curve; `x` and `y` are parallel. */
export interface Curve {
  label: string;
  x: readonly number[];
  y: readonly (number | null)[];
  /** "right": a scale and axis of its own, for a quantity of another magnitude (value loss beside policy loss). */
  axis?: "left" | "right";
  color?: string;
  /** Dots, not a line (a scatter); never smoothed. */
  dots?: boolean;
  /** The legend entry links there (a run's page). */
  href?: string;
}

export interface ChartView {
  /** TensorBoard's smoothing weight, 0 (none) to 0.99. */
  smoothing: number;
  logY: boolean;
  x: XMode;
}

export const DEFAULT_VIEW: ChartView = { smoothing: 0.6, logY: false, x: "step" };

export interface ChartOptions {
  title: string;
  /** A plain-valued x (a hyperparameter): its name; the view's x mode does not apply. */
  valueX?: { label: string; log: boolean };
  height?: number;
}

/** Tableau-like colours, far enough apart to tell ten runs apart; beyond ten they repeat. */
export const COLORS = [
  "#2563eb",
  "#dc2626",
  "#16a34a",
  "#9333ea",
  "#ea580c",
  "#0891b2",
  "#ca8a04",
  "#db2777",
  "#4b5563",
  "#65a30d",
];

/** Hex colour with an alpha byte: the raw curve is drawn faint behind the smoothed one. */
const faint = (color: string) => `${color}59`;

const X_LABEL: Record<XMode, string> = { step: "env steps", wall: "wall time", relative: "time since start" };

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

interface LegendRow {
  toggle: HTMLButtonElement;
  label: HTMLElement | null;
  value: HTMLElement;
}

/** What the plotted arrays are, per curve: its raw series index and its smoothed one (if any). */
interface Layout {
  raw: number;
  smooth: number | null;
}

export class LineChart {
  readonly element: HTMLElement;
  private plot: uPlot | undefined;
  private structure = "";
  private readonly holder: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly legendX: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly observer: ResizeObserver;
  private curves: Curve[] = [];
  private view: ChartView;
  private layout: Layout[] = [];
  private rows: LegendRow[] = [];
  /** The aligned raw and smoothed values, before the log axis drops what it cannot place. */
  private raw: (number | null)[][] = [];
  private smoothed: ((number | null)[] | null)[] = [];
  private xs: number[] = [];
  /** Per curve, the aligned row of each of its points. */
  private placed: number[][] = [];
  private hidden = new Set<number>();
  private draws = 0;

  constructor(
    private readonly opts: ChartOptions,
    view: ChartView = DEFAULT_VIEW,
  ) {
    this.view = { ...view };
    this.holder = h("div", { class: "chart-canvas" });
    this.legendX = h("span", { class: "legend-x" });
    this.legend = h("ul", { class: "chart-legend", "aria-label": `${opts.title}: values` });
    this.summary = h("p", { class: "chart-summary", "aria-live": "off" });
    this.element = h(
      "figure",
      {
        class: "chart",
        "data-chart": opts.title.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
        "data-points": "0",
        "data-series": "0",
      },
      h("figcaption", null, opts.title),
      this.holder,
      h("div", { class: "chart-legend-wrap" }, this.legendX, this.legend),
      this.summary,
    );
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.holder);
  }

  /** New curves, or a new view of them: the plot is rebuilt only when its shape changed. */
  update(curves: readonly Curve[], view: Partial<ChartView> = {}): void {
    // A new view of the same curves (the smoothing slider moving) keeps their alignment.
    if (!sameCurves(this.curves, curves)) {
      this.curves = [...curves];
      const aligned = alignSeries(
        this.curves,
        this.curves.some((c) => c.dots),
      );
      this.xs = aligned.xs;
      this.raw = aligned.ys;
      this.placed = aligned.rows;
    }
    this.view = { ...this.view, ...view };
    const w = this.view.smoothing;
    // Each curve is smoothed over its own points, then placed on the shared x: another run's x
    // values are no observation of this one.
    this.smoothed = this.curves.map((c, i) =>
      c.dots || w <= 0 ? null : place(smoothEma(c.y, w), this.placed[i]!, this.xs.length),
    );

    const structure = JSON.stringify({
      view: { ...this.view, smoothing: w > 0 },
      curves: this.curves.map((c) => [c.label, c.color, c.axis, c.dots, c.href]),
    });
    if (structure !== this.structure || !this.plot) {
      this.structure = structure;
      this.build();
    } else {
      this.plot.setData(this.data());
    }
    this.renderSummary();
    this.readOut(null);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
  }

  private colorOf(i: number): string {
    return this.curves[i]!.color ?? COLORS[i % COLORS.length]!;
  }

  /** The arrays uPlot draws: x, then per curve its raw values and its smoothed ones. */
  private data(): uPlot.AlignedData {
    const out: (number | null)[][] = [];
    let hidden = 0;
    this.curves.forEach((_, i) => {
      for (const values of [this.raw[i]!, this.smoothed[i]]) {
        if (!values) continue;
        if (!this.view.logY) {
          out.push(values);
          continue;
        }
        const logged = forLogScale(values);
        if (values === this.raw[i]) hidden += logged.hidden;
        out.push(logged.values);
      }
    });
    this.element.dataset["hiddenOnLog"] = String(hidden);
    return [this.xs, ...out] as uPlot.AlignedData;
  }

  private build(): void {
    this.plot?.destroy();
    const { valueX } = this.opts;
    const mode = this.view.x;
    const two = this.curves.some((c) => c.axis === "right");
    const logScale = (): uPlot.Scale => ({
      distr: 3,
      log: 10,
      // A log axis with nothing positive to place still needs a range.
      range: (_u, min, max) => (min === null || max === null ? [1, 10] : uPlot.rangeLog(min, max, 10, true)),
    });
    const yScale = (): uPlot.Scale => (this.view.logY ? logScale() : {});
    const series: uPlot.Series[] = [{ label: valueX?.label ?? X_LABEL[mode] }];
    this.layout = [];
    this.curves.forEach((c, i) => {
      const color = this.colorOf(i);
      const scale = c.axis === "right" ? "y2" : "y";
      const smooth = this.smoothed[i] !== null;
      const raw = series.length;
      if (c.dots) {
        series.push({
          label: c.label,
          scale,
          stroke: color,
          paths: () => null,
          points: { show: true, size: 7 },
        });
        this.layout.push({ raw, smooth: null });
        return;
      }
      series.push({
        label: c.label,
        scale,
        stroke: smooth ? faint(color) : color,
        width: smooth ? 1 : 1.5,
        spanGaps: true,
        points: { show: false },
      });
      if (smooth) {
        series.push({
          label: `${c.label} (smoothed)`,
          scale,
          stroke: color,
          width: 1.75,
          spanGaps: true,
          points: { show: false },
        });
      }
      this.layout.push({ raw, smooth: smooth ? raw + 1 : null });
    });
    const xAxis: uPlot.Axis = {
      label: valueX?.label ?? X_LABEL[mode],
      // uPlot's time ticks take two lines (time, then the date where it changes).
      size: !valueX && mode === "wall" ? 56 : 40,
      ...(valueX?.log
        ? { values: (_u: uPlot, ticks: number[]) => ticks.map(compact) }
        : valueX || mode === "step"
          ? { values: (_u: uPlot, ticks: number[]) => tickLabels(ticks) }
          : mode === "relative"
            ? { values: (_u: uPlot, ticks: number[]) => ticks.map(formatDuration) }
            : {}),
    };
    const axisColor = (side: "left" | "right") => {
      if (!two) return {};
      const i = this.curves.findIndex((c) => (c.axis ?? "left") === side);
      return i < 0 ? {} : { stroke: this.colorOf(i), label: this.curves[i]!.label, labelSize: 16 };
    };
    const yTicks = (_u: uPlot, ticks: number[]) => (this.view.logY ? ticks.map(compact) : tickLabels(ticks));
    const axes: uPlot.Axis[] = [xAxis, { scale: "y", size: 56, values: yTicks, ...axisColor("left") }];
    if (two)
      axes.push({
        scale: "y2",
        side: 1,
        size: 56,
        grid: { show: false },
        values: yTicks,
        ...axisColor("right"),
      });
    const width = Math.max(200, Math.floor(this.holder.clientWidth || 400));
    this.plot = new uPlot(
      {
        width,
        height: this.opts.height ?? 200,
        legend: { show: false },
        cursor: {
          drag: { x: true, y: false },
          // The cursor's dots go to each curve's nearest point, not to a gap of another run's x.
          hover: { skip: [null, undefined] },
        },
        scales: {
          x: valueX?.log ? logScale() : { time: !valueX && mode === "wall" },
          y: yScale(),
          ...(two ? { y2: yScale() } : {}),
        },
        axes,
        series,
        hooks: {
          setCursor: [(u) => this.readOut(u.cursor.idx ?? null)],
          draw: [(u) => this.drawn(u)],
        },
      },
      this.data(),
      this.holder,
    );
    for (const i of this.hidden) this.setShown(i, false);
    this.renderLegend();
  }

  /** What the chart shows, in attributes that tests and screen-reader users' tools can read. */
  private drawn(u: uPlot): void {
    const d = this.element.dataset;
    const range = (key: string) => {
      const s = u.scales[key];
      return s && s.min != null && s.max != null ? `${s.min} ${s.max}` : "";
    };
    d["yScale"] = this.view.logY ? "log" : "linear";
    d["xScale"] = this.opts.valueX?.log ? "log" : this.opts.valueX ? "linear" : this.view.x;
    d["yRange"] = range("y");
    if (u.scales["y2"]) d["y2Range"] = range("y2");
    else delete d["y2Range"];
    d["smoothing"] = String(this.smoothed.some((s) => s !== null) ? this.view.smoothing : 0);
    d["drawn"] = String(++this.draws);
  }

  private setShown(curve: number, show: boolean): void {
    const l = this.layout[curve];
    if (!l || !this.plot) return;
    this.plot.setSeries(l.raw, { show });
    if (l.smooth !== null) this.plot.setSeries(l.smooth, { show });
  }

  private renderLegend(): void {
    this.rows = this.curves.map((c, i) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      // CSSOM, not a style attribute: the page's CSP allows the one and forbids the other.
      swatch.style.backgroundColor = this.colorOf(i);
      const toggle = h(
        "button",
        {
          type: "button",
          class: "legend-toggle",
          "aria-pressed": this.hidden.has(i) ? "false" : "true",
          "aria-label": `Show ${c.label}`,
          title: `Show or hide ${c.label}`,
        },
        swatch,
        c.href ? null : c.label,
      );
      toggle.addEventListener("click", () => {
        const show = this.hidden.has(i);
        if (show) this.hidden.delete(i);
        else this.hidden.add(i);
        toggle.setAttribute("aria-pressed", String(show));
        this.setShown(i, show);
      });
      const value = h("span", { class: "legend-value" });
      return { toggle, value, label: c.href ? h("a", { href: c.href }, c.label) : null };
    });
    this.legend.replaceChildren(
      ...this.rows.map((row, i) =>
        h("li", { "data-curve": this.curves[i]!.label }, row.toggle, row.label, row.value),
      ),
    );
    this.element.dataset["series"] = String(this.curves.length);
  }

  /** The legend's values: each curve at the hovered x (its nearest point), or its latest when none is hovered. */
  private readOut(idx: number | null): void {
    const x = idx === null ? null : this.xs[idx];
    const none = this.curves.every((c) => c.dots) ? "" : "latest";
    this.legendX.textContent = x === undefined || x === null ? none : `at ${this.formatX(x)}`;
    this.rows.forEach((row, i) => {
      const raw = this.raw[i] ?? [];
      if (idx === null && this.curves[i]!.dots) {
        // A scatter has no "latest": say how many points it has.
        const n = raw.filter((v) => v !== null).length;
        row.value.textContent = n === 1 ? "1 point" : `${n} points`;
        return;
      }
      const at = idx === null ? lastIndex(raw) : nearestIndex(raw, idx);
      if (at === null) {
        row.value.textContent = "no points";
        return;
      }
      const smooth = this.smoothed[i]?.[at];
      row.value.textContent =
        smooth === undefined || smooth === null
          ? compact(raw[at] ?? null)
          : `${compact(smooth)} (raw ${compact(raw[at] ?? null)})`;
    });
  }

  private formatX(x: number): string {
    if (this.opts.valueX) return `${this.opts.valueX.label} ${compact(x)}`;
    if (this.view.x === "wall") return new Date(x * 1000).toLocaleString();
    if (this.view.x === "relative") return formatDuration(x);
    return `${compact(x)} steps`;
  }

  private renderSummary(): void {
    const first = this.raw[0] ?? [];
    const count = first.filter((v) => v !== null).length;
    this.element.dataset["points"] = String(count);
    this.element.dataset["iterations"] = String(this.curves[0]?.x.length ?? 0);
    const hidden = Number(this.element.dataset["hiddenOnLog"] ?? 0);
    const total = this.raw.reduce((n, ys) => n + ys.filter((v) => v !== null).length, 0);
    this.summary.textContent =
      total === 0
        ? `${this.opts.title}: no points yet`
        : `${this.opts.title}: ${total} points` +
          (hidden > 0 ? `; ${hidden} at or below 0 not drawn on the log axis` : "");
  }

  private resize(): void {
    if (!this.plot) return;
    const width = Math.max(200, Math.floor(this.holder.clientWidth));
    if (width !== this.plot.width) this.plot.setSize({ width, height: this.opts.height ?? 200 });
  }
}

/** Whether two lists of curves draw the same points (labels, colours and values). */
function sameCurves(a: readonly Curve[], b: readonly Curve[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((c, k) => {
    const d = b[k]!;
    if (c.label !== d.label || c.color !== d.color || c.axis !== d.axis || c.dots !== d.dots) return false;
    if (c.href !== d.href || c.x.length !== d.x.length || c.y.length !== d.y.length) return false;
    for (let i = 0; i < c.x.length; i++) if (c.x[i] !== d.x[i] || c.y[i] !== d.y[i]) return false;
    return true;
  });
}

/**
 * The controls of a view (smoothing, y scale, x axis), for one chart or several at once.
 * `onChange` gets the whole new view; the slider reports while it moves.
 */
export function chartControls(
  initial: ChartView,
  onChange: (view: ChartView) => void,
  opts: { x?: boolean } = {},
): HTMLElement {
  const view = { ...initial };
  const slider = h("input", {
    type: "range",
    min: 0,
    max: 0.99,
    step: 0.01,
    value: String(view.smoothing),
  });
  const shown = h("output", { class: "smoothing-value" }, view.smoothing.toFixed(2));
  slider.addEventListener("input", () => {
    view.smoothing = Number(slider.value);
    shown.textContent = view.smoothing.toFixed(2);
    onChange({ ...view });
  });
  const y = h(
    "select",
    null,
    h("option", { value: "linear" }, "linear"),
    h("option", { value: "log" }, "log"),
  );
  y.value = view.logY ? "log" : "linear";
  y.addEventListener("change", () => {
    view.logY = y.value === "log";
    onChange({ ...view });
  });
  const x = h(
    "select",
    null,
    h("option", { value: "step" }, X_LABEL.step),
    h("option", { value: "wall" }, X_LABEL.wall),
    h("option", { value: "relative" }, X_LABEL.relative),
  );
  x.value = view.x;
  x.addEventListener("change", () => {
    view.x = x.value as XMode;
    onChange({ ...view });
  });
  return h(
    "div",
    { class: "chart-controls" },
    h("label", { class: "inline" }, "Smoothing ", slider, shown),
    h("label", { class: "inline" }, "Y axis ", y),
    opts.x === false ? null : h("label", { class: "inline" }, "X axis ", x),
  );
}
