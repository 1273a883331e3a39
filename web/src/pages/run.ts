import { advancesStatus, isRunStatus } from "../../../contracts/run-status.ts";
import { api, errorBox, live } from "../app.ts";
import { xValues } from "../chart-data.ts";
import {
  type ChartView,
  chartControls,
  DEFAULT_VIEW,
  LineChart,
  type MetricPoint,
  PointStore,
} from "../charts.ts";
import { fmtDate, h, statusBadge } from "../dom.ts";
import { replaySection } from "../replay.ts";
import type { Page } from "../router.ts";
import { metadataEditor, runTitle, tagChips, trialNote } from "../run-meta.ts";
import { ACTIVE, type Run } from "./runs.ts";

/**
 * One run: live charts, status history, stop/resume, checkpoint and policy (ONNX) download. The history comes from
 * GET /runs/:id/metrics; live points from the WebSocket. After every (re)subscription the page asks
 * for the iterations after the last one it holds, so a dropped connection or an API restart loses
 * no point: the store is keyed by iteration, so overlaps are harmless.
 */
const CHARTS: { title: string; series: { key: string; label: string; axis?: "right" }[] }[] = [
  { title: "Episodic return", series: [{ key: "charts/episodic_return", label: "return" }] },
  { title: "Steps per second", series: [{ key: "charts/SPS", label: "SPS" }] },
  {
    title: "Losses",
    series: [
      { key: "losses/policy_loss", label: "policy" },
      // Value loss (~20) is three orders above policy loss (~0.01): on one axis the policy line is flat.
      { key: "losses/value_loss", label: "value", axis: "right" },
    ],
  },
  { title: "Approx KL", series: [{ key: "losses/approx_kl", label: "approx_kl" }] },
  { title: "Entropy", series: [{ key: "losses/entropy", label: "entropy" }] },
  { title: "Explained variance", series: [{ key: "losses/explained_variance", label: "explained var." }] },
];

const TERMINAL = new Set(["stopped", "completed", "failed"]);
const RECONCILE_MS = 5000;

export const runPage: Page = (main, { id }) => {
  const store = new PointStore();
  let view: ChartView = { ...DEFAULT_VIEW };
  const charts = CHARTS.map((c) => new LineChart({ title: c.title }, view));
  const drawCharts = () => {
    const points = store.sorted();
    const x = xValues(points, view.x);
    CHARTS.forEach((c, i) => {
      charts[i]!.update(
        c.series.map((s) => ({
          label: s.label,
          axis: s.axis,
          x,
          y: points.map((p) => p.metrics[s.key] ?? null),
        })),
        view,
      );
    });
  };
  const controls = chartControls(view, (next) => {
    view = next;
    drawCharts();
  });
  const statusSlot = h("span");
  const progress = h("progress", { max: 1, value: 0, "aria-label": "progress" });
  const progressText = h("span", { class: "muted" });
  const stop = h("button", { type: "button", class: "danger", "data-action": "stop" }, "Stop");
  const resume = h("button", { type: "button", "data-action": "resume" }, "Resume");
  const download = h("button", { type: "button", "data-action": "checkpoint" }, "Download checkpoint");
  const downloadPolicy = h(
    "button",
    {
      type: "button",
      "data-action": "policy",
      title: "The deterministic policy, for onnxruntime: raw observations in, actions out",
    },
    "Download policy (ONNX)",
  );
  const downloadMetrics = h(
    "button",
    { type: "button", "data-action": "metrics-csv", title: "Every iteration's metrics, one row each" },
    "Download metrics (CSV)",
  );
  /** Under the heading: the tags, and for a sweep's trial its sweep; the editor, once loaded. */
  const metaLine = h("div", { class: "run-meta-line" });
  const metaSlot = h("section", null, h("h2", null, "Name, tags and notes"));
  const actionStatus = h("div", { class: "form-status" });
  const history = h("ol", { class: "status-history", "aria-label": "Status changes" });
  const details = h("dl", { class: "kv" });
  const config = h("details", null, h("summary", null, "Hyperparameters"));
  const heading = h("h1", null, "Run");
  const replay = replaySection(id);
  main.append(
    h(
      "div",
      { class: "page-head" },
      heading,
      h("div", { class: "actions" }, statusSlot, stop, resume, download, downloadPolicy, downloadMetrics),
    ),
    metaLine,
    h("div", { class: "progress-row" }, progress, progressText),
    actionStatus,
    controls,
    h(
      "section",
      { class: "charts", "aria-label": "Metrics" },
      charts.map((c) => c.element),
    ),
    replay.element,
    h(
      "div",
      { class: "columns" },
      h("section", null, h("h2", null, "Status"), history),
      h("section", null, h("h2", null, "Details"), details, config),
    ),
    metaSlot,
  );

  let run: Run | undefined;
  let disposed = false;
  /** The status shown: the last one logged in the history (the first load seeds it). */
  let lastStatus: string | undefined;
  /** Status frames so far: an HTTP answer asked for before the latest frame may be older than that
   * frame, so its status is not used (see contracts/run-status.ts). */
  let statusFrames = 0;
  /** The status of the run whose details are shown. */
  let detailsOf: string | undefined;

  const logStatus = (status: string, at: string | null) => {
    history.append(h("li", null, statusBadge(status), " ", h("time", null, fmtDate(at))));
    lastStatus = status;
  };

  /** The first load writes what the run's timestamps tell; later changes are logged as they come. */
  const seedHistory = (r: Run) => {
    logStatus("queued", r.createdAt);
    if (r.startedAt) logStatus("running", r.startedAt);
    if (TERMINAL.has(r.status)) logStatus(r.status, r.finishedAt);
    else if (r.status !== lastStatus) logStatus(r.status, r.updatedAt);
  };

  const renderStatus = (reported: string) => {
    if (lastStatus !== undefined && advancesStatus(lastStatus, reported))
      logStatus(reported, new Date().toISOString());
    const status = lastStatus ?? reported;
    if (run && isRunStatus(status)) run.status = status;
    statusSlot.replaceChildren(statusBadge(status));
    stop.hidden = !ACTIVE.has(status);
    stop.disabled = status === "stopping";
    // A sweep's trial is resumed with its sweep (the API refuses it alone): no button to mislead.
    resume.hidden = !(status === "stopped" || status === "failed") || Boolean(run?.sweep);
  };
  /** The status of an HTTP answer, unless a status frame came in while it was on its way. */
  const answered = (framesBefore: number, status: string) =>
    framesBefore === statusFrames ? status : (lastStatus ?? status);

  const renderProgress = (globalStep: number) => {
    if (!run) return;
    run.globalStep = Math.max(run.globalStep, globalStep);
    const fraction = run.totalSteps > 0 ? Math.min(1, run.globalStep / run.totalSteps) : 0;
    progress.value = fraction;
    progressText.textContent = ` ${run.globalStep.toLocaleString()} / ${run.totalSteps.toLocaleString()} steps (${Math.round(fraction * 100)}%)`;
  };

  /** What the heading and its line show now (a periodic refresh redraws them only when it changed). */
  let metaShown = "";
  const renderMeta = (r: Run) => {
    const shown = JSON.stringify([r.name, r.tags, r.sweep]);
    if (shown === metaShown) return;
    metaShown = shown;
    heading.textContent = runTitle(r);
    metaLine.replaceChildren(tagChips(r.tags), trialNote(r) ?? "");
  };

  const renderDetails = (r: Run) => {
    renderMeta(r);
    const rows: [string, string][] = [
      ["Run id", r.id],
      ["Environment", r.env],
      ["Preset", r.preset ?? "–"],
      ["Seed", String(r.seed)],
      [
        "Runners",
        `${r.resources.runners} × ${r.resources.envsPerRunner} envs${r.resources.gpu ? ", GPU" : ""}`,
      ],
      ["Created", fmtDate(r.createdAt)],
      ["Started", fmtDate(r.startedAt)],
      ["Finished", fmtDate(r.finishedAt)],
    ];
    if (r.evaluation) {
      const e = r.evaluation;
      rows.push([
        "Evaluation",
        `${e.returnMean.toFixed(1)} ± ${e.returnStd.toFixed(1)} over ${e.episodes} episodes (deterministic policy, seed ${e.seed})`,
      ]);
    }
    if (r.failureReason) rows.push(["Failure", r.failureReason]);
    // While it waits for slots: its place in its pool's fair-share queue and why (read again with the row).
    if (r.queue) rows.splice(1, 0, ["Queue", r.queue.reason]);
    details.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    config.replaceChildren(
      h("summary", null, "Hyperparameters"),
      h(
        "table",
        { class: "compact" },
        h(
          "tbody",
          null,
          Object.entries(r.config).map(([k, v]) =>
            h("tr", null, h("th", { scope: "row" }, k), h("td", null, JSON.stringify(v))),
          ),
        ),
      ),
    );
  };

  const refreshRun = async () => {
    const framesBefore = statusFrames;
    run = await api.get<Run>(`/api/v1/runs/${id}`);
    if (disposed) return;
    if (lastStatus === undefined) seedHistory(run);
    // Once: a later refresh must not wipe what is being typed.
    if (metaSlot.childElementCount === 1)
      metaSlot.append(
        metadataEditor(run, (updated) => {
          if (run) Object.assign(run, { name: updated.name, tags: updated.tags, notes: updated.notes });
          renderMeta(updated);
        }),
      );
    renderDetails(run);
    replay.update(run);
    detailsOf = run.status;
    renderStatus(answered(framesBefore, run.status));
    renderProgress(run.globalStep);
    download.disabled = run.iteration === 0;
  };

  const fetchFrom = async (fromIteration: number) => {
    const page = await api.get<{ points: MetricPoint[] }>(
      `/api/v1/runs/${id}/metrics?fromIteration=${fromIteration}`,
    );
    if (disposed) return;
    store.addAll(page.points);
    const last = page.points.at(-1);
    if (last) renderProgress(last.globalStep);
  };

  // Live frames are a broadcast: an API node that has just (re)started may miss some before the
  // cluster knows it, the last ones included, which no later frame would reveal. While the run is
  // active, its row is read now and then, and what the store lacks is fetched.
  const reconcile = setInterval(() => {
    if (!run || !ACTIVE.has(run.status)) return;
    const last = store.lastIteration;
    refreshRun()
      .then(() => (run && run.iteration > last ? fetchFrom(last + 1) : undefined))
      .catch(() => {});
  }, RECONCILE_MS);

  const offStore = store.onChange(() => {
    drawCharts();
    if (run && store.points.size > 0) download.disabled = false;
  });

  const act = async (what: "stop" | "resume") => {
    actionStatus.replaceChildren();
    stop.disabled = resume.disabled = true;
    try {
      const framesBefore = statusFrames;
      run = await api.post<Run>(`/api/v1/runs/${id}/${what}`);
      renderStatus(answered(framesBefore, run.status));
    } catch (err) {
      actionStatus.replaceChildren(errorBox(err));
    } finally {
      resume.disabled = false;
      stop.disabled = run?.status === "stopping";
    }
  };
  stop.addEventListener("click", () => void act("stop"));
  resume.addEventListener("click", () => void act("resume"));
  const downloadFile = async (path: string, fallbackName: string) => {
    actionStatus.replaceChildren();
    try {
      await api.download(path, fallbackName);
    } catch (err) {
      actionStatus.replaceChildren(errorBox(err));
    }
  };
  download.addEventListener(
    "click",
    () => void downloadFile(`/api/v1/runs/${id}/checkpoint`, `run-${id}.ckpt`),
  );
  downloadPolicy.addEventListener(
    "click",
    () => void downloadFile(`/api/v1/runs/${id}/policy.onnx`, `run-${id}.onnx`),
  );
  downloadMetrics.addEventListener(
    "click",
    () => void downloadFile(`/api/v1/runs/${id}/metrics.csv`, `run-${id}-metrics.csv`),
  );

  let unsubscribe: (() => void) | undefined;
  refreshRun()
    .then(() => {
      if (disposed) return;
      unsubscribe = live.subscribe(
        { runId: id },
        (m) => {
          if (m.type === "metrics") {
            const point = m as unknown as MetricPoint;
            // A hole before this point (broadcasts this API node missed): fetch it from the history.
            const last = store.lastIteration;
            if (store.points.size > 0 && point.iteration > last + 1) void fetchFrom(last + 1).catch(() => {});
            // A live frame has no time of its own: its arrival stands for it (the stored point's
            // time, read on the next load, is the metric's write, a few milliseconds earlier).
            store.add({
              iteration: point.iteration,
              globalStep: point.globalStep,
              wallTime: new Date().toISOString(),
              metrics: point.metrics,
            });
            renderProgress(point.globalStep);
          } else if (m.type === "status" || m.type === "subscribed") {
            const status = String(m["status"]);
            statusFrames++;
            renderStatus(status);
            // The run ended (maybe while the page was cut off: then the subscription says so): its
            // details (finish time, evaluation, failure) and last points are read once more.
            if (!TERMINAL.has(status)) detailsOf = undefined;
            else if (detailsOf !== status) {
              detailsOf = status;
              void refreshRun().catch(() => {});
              void fetchFrom(store.lastIteration + 1).catch(() => {});
            }
          } else if (m.type === "error") {
            actionStatus.replaceChildren(errorBox(new Error(String(m["message"]))));
          }
        },
        // Every (re)subscription: fetch what is not here yet. `from` is read now, before the frames
        // that follow the subscription add newer points.
        () => {
          const from = store.lastIteration + 1;
          void fetchFrom(store.points.size === 0 ? 0 : from).catch((err) =>
            actionStatus.replaceChildren(errorBox(err)),
          );
        },
      );
    })
    .catch((err) => main.replaceChildren(h("h1", null, "Run"), errorBox(err)));

  return () => {
    disposed = true;
    clearInterval(reconcile);
    unsubscribe?.();
    offStore();
    for (const chart of charts) chart.destroy();
    replay.destroy();
  };
};
