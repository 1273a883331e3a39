import type { PublicSweep, PublicTrial } from "../../../contracts/sweeps.ts";
import { api, errorBox } from "../app.ts";
import { isXMode, longCsv, metricKeys, xValues } from "../chart-data.ts";
import { type ChartView, chartControls, DEFAULT_VIEW, LineChart, type MetricPoint } from "../charts.ts";
import { fmtNumber, h, statusBadge } from "../dom.ts";
import type { Page } from "../router.ts";
import type { Run } from "./runs.ts";

/**
 * Runs side by side: `/compare?runs=ID,ID,…`, `?tag=TAG` or `?sweep=ID` (a sweep's trials). Every
 * selected run's full history is fetched once; one chart overlays them for the metric key picked,
 * with the shared chart controls. The view (key, smoothing, scales) is kept in the address, so a
 * comparison can be linked.
 *
 * "Download CSV" writes the comparison's data as one long CSV (run, step, key, value) in the
 * browser, from the histories the page already holds: the file is exactly what is plotted, it costs
 * no second fetch, and the server needs no endpoint that reads many runs in one request (each run's
 * own export is GET /runs/:id/metrics).
 */
interface Entry {
  id: string;
  label: string;
  run: Run | null;
  points: MetricPoint[];
}

const PREFERRED_KEY = "charts/episodic_return";
/** A tag can match many runs; a chart of more is unreadable anyway. */
const MAX_RUNS = 50;

/** A run's name where the API gives runs one, else its id's first characters. */
export function runLabel(run: Pick<Run, "id">): string {
  const name = (run as { name?: unknown }).name;
  return typeof name === "string" && name !== "" ? name : run.id.slice(0, 8);
}

function viewFrom(query: URLSearchParams): ChartView {
  const smoothing = Number(query.get("smoothing") ?? DEFAULT_VIEW.smoothing);
  const x = query.get("x");
  return {
    smoothing: Number.isFinite(smoothing) ? Math.min(Math.max(smoothing, 0), 0.99) : DEFAULT_VIEW.smoothing,
    logY: query.get("y") === "log",
    x: isXMode(x) ? x : DEFAULT_VIEW.x,
  };
}

export const comparePage: Page = (main, _params, query) => {
  const ids = (query.get("runs") ?? "").split(",").filter(Boolean);
  const tag = query.get("tag");
  const sweepId = query.get("sweep");
  let view = viewFrom(query);
  let key = query.get("key") ?? "";
  let entries: Entry[] = [];

  const heading = h("h1", null, "Compare runs");
  const what = h("p", { class: "muted" });
  const status = h("div", { class: "form-status" });
  const keySelect = h("select", { disabled: true });
  const csv = h("button", { type: "button", disabled: true }, "Download CSV");
  const chart = new LineChart({ title: "Comparison", height: 320 }, view);
  const runsBody = h("tbody");
  const controls = chartControls(view, (next) => {
    view = next;
    draw();
  });
  controls.prepend(h("label", { class: "inline" }, "Metric ", keySelect));
  main.append(
    h("div", { class: "page-head" }, heading, h("div", { class: "actions" }, csv)),
    what,
    status,
    controls,
    h("section", { class: "charts wide", "aria-label": "Curves" }, chart.element),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "compact compare-runs" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Run", "Status", "Env", "Seed", "Points", "Evaluation"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        runsBody,
      ),
    ),
  );

  /** The address says what is shown: a reload or a shared link shows the same. */
  const remember = () => {
    const q = new URLSearchParams();
    if (ids.length > 0) q.set("runs", ids.join(","));
    if (tag) q.set("tag", tag);
    if (sweepId) q.set("sweep", sweepId);
    if (key) q.set("key", key);
    q.set("smoothing", String(view.smoothing));
    if (view.logY) q.set("y", "log");
    if (view.x !== "step") q.set("x", view.x);
    history.replaceState(null, "", `/compare?${q.toString().replaceAll("%2C", ",").replaceAll("%2F", "/")}`);
  };

  const draw = () => {
    chart.update(
      entries.map((e) => ({
        label: e.label,
        href: `/runs/${e.id}`,
        x: xValues(e.points, view.x),
        y: e.points.map((p) => p.metrics[key] ?? null),
      })),
      view,
    );
    chart.element.querySelector("figcaption")!.textContent = key || "Comparison";
    remember();
  };

  keySelect.addEventListener("change", () => {
    key = keySelect.value;
    draw();
  });
  csv.addEventListener("click", () => {
    const blob = new Blob([longCsv(entries.map((e) => ({ run: e.id, points: e.points })))], {
      type: "text/csv",
    });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: `compare-${entries.length}-runs.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  /** The selected runs, in the order they were asked for (a sweep's by trial number). */
  const select = async (): Promise<{ id: string; label: string | null; run: Run | null }[]> => {
    if (sweepId) {
      const sweep = await api.get<PublicSweep & { trials?: PublicTrial[] }>(`/api/v1/sweeps/${sweepId}`);
      heading.textContent = `Compare trials: ${sweep.name}`;
      what.replaceChildren(
        "The trials of sweep ",
        h("a", { href: `/sweeps/${sweep.id}` }, sweep.name),
        ` (${sweep.env}).`,
      );
      return [...(sweep.trials ?? [])]
        .filter((t) => t.steps > 0)
        .sort((a, b) => a.index - b.index)
        .map((t) => ({ id: t.runId, label: `#${t.index}`, run: null }));
    }
    if (tag) {
      what.textContent = `Runs tagged “${tag}”.`;
      const page = await api.get<{ items: Run[] }>(
        `/api/v1/runs?${new URLSearchParams({ tag, limit: "100" })}`,
      );
      // Where the API gives runs tags, only those with this one: a server that does not know the
      // filter yet would otherwise answer with every run.
      const tagged = page.items.filter((r) => {
        const tags = (r as { tags?: unknown }).tags;
        return Array.isArray(tags) && tags.includes(tag);
      });
      return tagged.map((r) => ({ id: r.id, label: runLabel(r), run: r }));
    }
    what.textContent = ids.length === 1 ? "One run." : `${ids.length} runs.`;
    return ids.map((id) => ({ id, label: null, run: null }));
  };

  let disposed = false;
  const load = async () => {
    const picked = (await select()).slice(0, MAX_RUNS);
    if (disposed) return;
    if (picked.length === 0) {
      status.replaceChildren(
        h(
          "p",
          { class: "empty" },
          "No runs to compare. Tick runs on the ",
          h("a", { href: "/runs" }, "Runs"),
          " page and press Compare, or open a sweep and press Compare trials.",
        ),
      );
      return;
    }
    const loaded = await Promise.allSettled(
      picked.map(async (p) => {
        const [run, history] = await Promise.all([
          p.run ?? api.get<Run>(`/api/v1/runs/${p.id}`),
          api.get<{ points: MetricPoint[] }>(`/api/v1/runs/${p.id}/metrics`),
        ]);
        return { id: p.id, label: p.label ?? runLabel(run), run, points: history.points };
      }),
    );
    if (disposed) return;
    entries = loaded.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = loaded.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    status.replaceChildren(...failed.map((err) => errorBox(err)));

    const keys = metricKeys(entries.map((e) => e.points));
    if (!keys.includes(key)) key = keys.includes(PREFERRED_KEY) ? PREFERRED_KEY : (keys[0] ?? "");
    keySelect.replaceChildren(...keys.map((k) => h("option", { value: k }, k)));
    keySelect.value = key;
    keySelect.disabled = keys.length === 0;
    csv.disabled = entries.length === 0;
    runsBody.replaceChildren(
      ...entries.map((e) =>
        h(
          "tr",
          { "data-run-id": e.id },
          h("td", null, h("a", { href: `/runs/${e.id}` }, e.label)),
          h("td", null, e.run ? statusBadge(e.run.status) : "–"),
          h("td", null, e.run?.env ?? "–"),
          h("td", { class: "num" }, e.run ? String(e.run.seed) : "–"),
          h("td", { class: "num" }, String(e.points.length)),
          h("td", { class: "num" }, fmtNumber(e.run?.evaluation?.returnMean)),
        ),
      ),
    );
    draw();
  };
  load().catch((err) => status.replaceChildren(errorBox(err)));

  return () => {
    disposed = true;
    chart.destroy();
  };
};
