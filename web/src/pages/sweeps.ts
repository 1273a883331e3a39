import { formatParam, formatParams, prunedReason } from "../../../contracts/sweep-format.ts";
import { ACTIVE_SWEEP_STATUSES } from "../../../contracts/sweep-status.ts";
import type { PublicSweep, PublicTrial } from "../../../contracts/sweeps.ts";
import { api, errorBox, live } from "../app.ts";
import { isLogSampled, xValues } from "../chart-data.ts";
import { type ChartView, chartControls, DEFAULT_VIEW, LineChart, type MetricPoint } from "../charts.ts";
import { clear, fmtDate, fmtNumber, h, statusBadge } from "../dom.ts";
import type { Page } from "../router.ts";

/**
 * Sweeps: the list, and one sweep's trials — sortable by any column, pruned trials marked with the
 * rung that stopped them — with the metric plotted against each searched hyperparameter. Live over the
 * WebSocket (`{type:"subscribe", sweepId}`): each `trial` frame updates its row at once, and a
 * refresh from GET /sweeps/:id (at most one a second) brings the best trial and the counts along. After a
 * reconnect the hub sends every trial as it stands, and the page refreshes; while the sweep runs it is
 * also read every 5 s, for the broadcasts a just-restarted API node may have missed.
 */
/** The API's own shapes (contracts/sweeps.ts), never a copy that could drift. */
type Trial = PublicTrial;
type Sweep = PublicSweep & { trials?: Trial[] };

const ACTIVE: ReadonlySet<string> = new Set(ACTIVE_SWEEP_STATUSES);
/** Coalesces the refreshes that a burst of trial updates asks for. */
const REFRESH_MS = 1000;
const RECONCILE_MS = 5000;

function counts(s: Sweep): string {
  return Object.entries(s.trialCounts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(", ");
}

export const sweepsPage: Page = (main) => {
  const body = h("tbody");
  const status = h("div");
  main.append(
    h("div", { class: "page-head" }, h("h1", null, "Sweeps")),
    h(
      "p",
      { class: "muted" },
      "Researchers launch sweeps from a YAML file: ",
      h("code", null, "proxima sweeps create -f sweep.yaml"),
      ".",
    ),
    status,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "sweeps" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Sweep", "Status", "Env", "Method", "Trials", "Best", "Created"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  let disposed = false;
  api
    .get<{ items: Sweep[] }>("/api/v1/sweeps?limit=100")
    .then((page) => {
      if (disposed) return;
      if (page.items.length === 0) status.replaceChildren(h("p", { class: "empty" }, "No sweeps yet."));
      body.append(
        ...page.items.map((s) =>
          h(
            "tr",
            { "data-sweep-id": s.id },
            h("td", null, h("a", { href: `/sweeps/${s.id}` }, s.name)),
            h("td", null, statusBadge(s.status)),
            h("td", null, s.env),
            h("td", null, s.method),
            h("td", null, counts(s)),
            h("td", { class: "num" }, fmtNumber(s.best?.metric)),
            h("td", null, fmtDate(s.createdAt)),
          ),
        ),
      );
    })
    .catch((err) => status.replaceChildren(errorBox(err)));
  return () => {
    disposed = true;
  };
};

type SortKey = { column: string; descending: boolean };

function sortValue(t: Trial, column: string): number | string {
  if (column === "#") return t.index;
  if (column === "status") return t.status;
  if (column === "steps") return t.steps;
  if (column === "last") return t.lastMetric ?? Number.NEGATIVE_INFINITY;
  if (column === "final") return t.finalMetric ?? Number.NEGATIVE_INFINITY;
  if (column === "eval") return t.evaluationReturn ?? Number.NEGATIVE_INFINITY;
  const v = t.params[column];
  return typeof v === "number" || typeof v === "string" ? v : JSON.stringify(v);
}

export const sweepPage: Page = (main, { id }) => {
  const heading = h("h1", null, "Sweep");
  const statusSlot = h("span");
  const stop = h("button", { type: "button", class: "danger" }, "Stop");
  const resume = h("button", { type: "button" }, "Resume");
  const csv = h("button", { type: "button" }, "Download CSV");
  const actionStatus = h("div", { class: "form-status" });
  const best = h("div");
  const tableSlot = h("div");
  const chartsSlot = h("section", { class: "charts", "aria-label": "Metric against each hyperparameter" });
  let sweep: Sweep | undefined;
  let sort: SortKey = { column: "final", descending: true };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  let scatters: LineChart[] = [];

  // The trials' learning curves, overlaid: each trial's history is fetched once, then only its new
  // iterations as the trial advances.
  let curvesView: ChartView = { ...DEFAULT_VIEW };
  const curvesChart = new LineChart({ title: "Learning curves", height: 260 }, curvesView);
  const histories = new Map<string, MetricPoint[]>();
  const drawCurves = () => {
    if (!sweep?.trials) return;
    const metric = String(sweep.definition["metric"] ?? "charts/episodic_return");
    const trials = [...sweep.trials].sort((a, b) => a.index - b.index);
    curvesChart.update(
      trials.map((t) => {
        const points = histories.get(t.runId) ?? [];
        return {
          label: `#${t.index}`,
          href: `/runs/${t.runId}`,
          x: xValues(points, curvesView.x),
          y: points.map((p) => p.metrics[metric] ?? null),
        };
      }),
      curvesView,
    );
  };
  let fetching = false;
  let fetchAgain = false;
  const fetchCurves = async (trials: readonly Trial[]): Promise<void> => {
    // One fetch at a time (two would both append the same new iterations); a call during one runs after it.
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    await Promise.all(
      trials.map(async (t) => {
        const have = histories.get(t.runId) ?? [];
        const last = have.at(-1);
        if (t.steps === 0 || (last && last.globalStep >= t.steps)) return;
        const page = await api.get<{ points: MetricPoint[] }>(
          `/api/v1/runs/${t.runId}/metrics?fromIteration=${last ? last.iteration + 1 : 0}`,
        );
        histories.set(t.runId, [...have, ...page.points]);
      }),
    ).finally(() => {
      fetching = false;
    });
    if (disposed) return;
    drawCurves();
    if (fetchAgain && sweep?.trials) {
      fetchAgain = false;
      await fetchCurves(sweep.trials);
    }
  };
  main.append(
    h("div", { class: "page-head" }, heading, h("div", { class: "actions" }, statusSlot, stop, resume, csv)),
    actionStatus,
    best,
    h("h2", null, "Trials"),
    tableSlot,
    h(
      "div",
      { class: "page-head" },
      h("h2", null, "Learning curves"),
      h("a", { href: `/compare?sweep=${id}`, class: "button" }, "Compare trials"),
    ),
    chartControls(curvesView, (next) => {
      curvesView = next;
      drawCurves();
    }),
    h("section", { class: "charts wide", "aria-label": "Trials' learning curves" }, curvesChart.element),
    chartsSlot,
  );

  const renderTable = () => {
    if (!sweep?.trials) return;
    const space = (sweep.definition["searchSpace"] as Record<string, unknown> | undefined) ?? {};
    const params = Object.keys(space);
    const columns = ["#", "status", ...params, "steps", "last", "final", "eval"];
    const metric = String(sweep.definition["metric"] ?? "metric");
    const mode = sweep.definition["mode"] === "min" ? "min" : "max";
    const label: Record<string, string> = {
      last: `latest ${metric}`,
      final: `final ${metric}`,
      eval: "evaluation return",
    };
    const trials = [...sweep.trials].sort((a, b) => {
      const x = sortValue(a, sort.column);
      const y = sortValue(b, sort.column);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return sort.descending ? -order : order;
    });
    tableSlot.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "trials" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              columns.map((c) => {
                const active = sort.column === c;
                const button = h(
                  "button",
                  { type: "button" },
                  label[c] ?? c,
                  active ? (sort.descending ? " ▼" : " ▲") : "",
                );
                button.addEventListener("click", () => {
                  sort = { column: c, descending: active ? !sort.descending : c !== "#" };
                  renderTable();
                });
                return h(
                  "th",
                  {
                    scope: "col",
                    "aria-sort": active ? (sort.descending ? "descending" : "ascending") : "none",
                  },
                  button,
                );
              }),
            ),
          ),
          h(
            "tbody",
            null,
            trials.map((t) =>
              h(
                "tr",
                { "data-trial": String(t.index), "data-status": t.status },
                h("td", null, h("a", { href: `/runs/${t.runId}` }, String(t.index))),
                h(
                  "td",
                  null,
                  statusBadge(t.status),
                  t.pruned
                    ? h(
                        "span",
                        { class: "muted pruned-reason" },
                        `at ${t.pruned.rung.toLocaleString()} steps: ${prunedReason(t.pruned, mode, fmtNumber)}`,
                      )
                    : null,
                ),
                params.map((p) => h("td", { class: "num" }, formatParam(t.params[p]))),
                h("td", { class: "num" }, `${t.steps.toLocaleString()} / ${t.totalSteps.toLocaleString()}`),
                h("td", { class: "num" }, fmtNumber(t.lastMetric)),
                h("td", { class: "num" }, fmtNumber(t.finalMetric)),
                h("td", { class: "num" }, fmtNumber(t.evaluationReturn)),
              ),
            ),
          ),
        ),
      ),
    );
    for (const chart of scatters) chart.destroy();
    scatters = params
      .filter((p) => sweep!.trials!.some((t) => typeof t.params[p] === "number"))
      .map((p) => {
        const done = sweep!.trials!.filter(
          (t) => typeof t.params[p] === "number" && (t.finalMetric ?? t.lastMetric) !== null,
        );
        const chart = new LineChart({
          title: `${metric} vs ${p}`,
          // A log-sampled parameter (a learning rate) spreads its trials evenly on a log axis only.
          valueX: { label: p, log: isLogSampled(space[p]) },
        });
        const of = (pruned: boolean) => {
          const picked = done.filter((t) => (t.status === "pruned") === pruned);
          return {
            x: picked.map((t) => t.params[p] as number),
            y: picked.map((t) => (t.finalMetric ?? t.lastMetric) as number),
          };
        };
        chart.update(
          [
            { label: "trial", dots: true, ...of(false) },
            { label: "pruned", dots: true, color: "#9ca3af", ...of(true) },
          ],
          { smoothing: 0, logY: false },
        );
        return chart;
      });
    chartsSlot.replaceChildren(...scatters.map((c) => c.element));
  };

  const render = (s: Sweep) => {
    sweep = s;
    heading.textContent = s.name;
    statusSlot.replaceChildren(statusBadge(s.status));
    stop.hidden = !ACTIVE.has(s.status);
    stop.disabled = s.status === "stopping";
    resume.hidden = s.status !== "stopped";
    clear(
      best,
      s.best
        ? h(
            "p",
            { class: "card", "data-best-trial": String(s.best.index) },
            h("strong", null, "Best trial: "),
            h("a", { href: `/runs/${s.best.runId}` }, `#${s.best.index}`),
            ` ${fmtNumber(s.best.metric)} with `,
            h("code", null, formatParams(s.best.params)),
          )
        : h("p", { class: "muted" }, `${s.env}, ${s.method}; no trial has a result yet.`),
      s.failureReason ? h("p", { class: "error" }, s.failureReason) : null,
    );
    renderTable();
  };

  const load = async () => {
    clearTimeout(timer);
    timer = undefined;
    try {
      const s = await api.get<Sweep>(`/api/v1/sweeps/${id}`);
      if (disposed) return;
      render(s);
      void fetchCurves(s.trials ?? []).catch((err) => actionStatus.replaceChildren(errorBox(err)));
    } catch (err) {
      if (disposed) return;
      if (!sweep) main.replaceChildren(h("h1", null, "Sweep"), errorBox(err));
      else actionStatus.replaceChildren(errorBox(err));
    }
  };
  const refreshSoon = () => {
    timer ??= setTimeout(() => void load(), REFRESH_MS);
  };

  const act = async (what: "stop" | "resume") => {
    actionStatus.replaceChildren();
    try {
      await api.post(`/api/v1/sweeps/${id}/${what}`);
      await load();
    } catch (err) {
      actionStatus.replaceChildren(errorBox(err));
    }
  };
  stop.addEventListener("click", () => void act("stop"));
  resume.addEventListener("click", () => void act("resume"));
  csv.addEventListener("click", async () => {
    try {
      await api.download(`/api/v1/sweeps/${id}/results.csv`, `sweep-${id}.csv`);
    } catch (err) {
      actionStatus.replaceChildren(errorBox(err));
    }
  });

  void load();
  // Broadcasts a just-restarted API node missed (the sweep's end included): read the sweep now and then.
  const reconcile = setInterval(() => {
    if (sweep && ACTIVE.has(sweep.status)) void load();
  }, RECONCILE_MS);
  const unsubscribe = live.subscribe(
    { sweepId: id! },
    (m) => {
      if (m.type === "trial" && sweep?.trials) {
        const update = m["trial"] as Partial<Trial> & { id: string };
        const trial = sweep.trials.find((t) => t.id === update.id);
        if (trial) {
          Object.assign(trial, update);
          renderTable();
        }
        refreshSoon();
      } else if (m.type === "status") {
        void load();
      } else if (m.type === "error") {
        actionStatus.replaceChildren(errorBox(new Error(String(m["message"]))));
      }
    },
    () => void load(),
  );
  return () => {
    disposed = true;
    clearTimeout(timer);
    clearInterval(reconcile);
    unsubscribe();
    curvesChart.destroy();
    for (const chart of scatters) chart.destroy();
  };
};
