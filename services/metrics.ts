import { createRequire } from "node:module";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { ServiceBroker } from "moleculer";
import type * as PromClient from "prom-client";
import { RUN_STATUSES } from "../contracts/run-status.ts";
import type { Database } from "../db/index.ts";
import { brokerMetricsText } from "../lib/broker-metrics.ts";
import { sandboxProcessTally } from "../sandbox/tally.ts";

/**
 * Proxima's own Prometheus metrics (issue 19: the chart's dashboards and alerts query them), in the
 * process-wide prom-client registry that `/metrics` serves on every process (the API's HTTP and
 * WebSocket metrics live there too), beside the broker's lines (moleculer_*, process_*, os_*).
 *
 * Two kinds:
 * - events, counted where they happen (a lease taken over, a sandbox process started or crashed, a
 *   submission graded, env steps sampled on a worker): the `record…`/`observe…` functions below;
 * - state, read when Prometheus scrapes (prom-client's async `collect`): the database's reachability
 *   and pool, the runs by status, the oldest queued run, each running run's progress, the worker
 *   slots, the sandbox processes alive, the event-loop lag and the resident memory. Run state comes from the database, so
 *   every process hosting `runs` reports the same cluster-wide values: dashboards take their `max`.
 *
 * Names follow the WebSocket hub's (`proxima_` prefix, base units, `_total` counters) and
 * Prometheus' naming guide (https://prometheus.io/docs/practices/naming/).
 */

const require = createRequire(import.meta.url);
// The very prom-client instance prometheus-api-metrics registers the HTTP metrics in (api/metrics.ts).
export const prom = createRequire(require.resolve("prometheus-api-metrics"))(
  "prom-client",
) as typeof PromClient;

/** A process's broker and database, registered by platform.ts while it runs. */
export interface MetricsSource {
  broker: ServiceBroker;
  db: Database;
  services: readonly string[];
  /** Set once the process begins to drain (SIGTERM): the API's drain comes before the broker's stop. */
  draining: boolean;
}

/** What one workers service hosts now, read at each scrape. */
export interface WorkerSlotsState {
  slots: number;
  used: number;
  gpu: boolean;
  draining: boolean;
}

const sources = new Set<MetricsSource>();
const workerSlots = new Set<() => WorkerSlotsState>();

/** Registers a process's broker and database for the scrape-time gauges; returns its handle. */
export function addMetricsSource(source: Omit<MetricsSource, "draining">): {
  drain(): void;
  remove(): void;
} {
  const entry: MetricsSource = { ...source, draining: false };
  sources.add(entry);
  proximaMetrics();
  return {
    drain: () => {
      entry.draining = true;
    },
    remove: () => {
      sources.delete(entry);
    },
  };
}

/** Registers a workers service's slots (summed over the services of the process); returns the removal. */
export function addWorkerSlots(read: () => WorkerSlotsState): () => void {
  workerSlots.add(read);
  proximaMetrics();
  return () => {
    workerSlots.delete(read);
  };
}

/** The whole `/metrics` text of a process: prom-client's registry, then the broker's lines. */
export async function processMetricsText(
  broker: ServiceBroker,
): Promise<{ contentType: string; body: string }> {
  proximaMetrics();
  const own = await prom.register.metrics();
  return { contentType: prom.register.contentType, body: `${own.trimEnd()}\n${brokerMetricsText(broker)}` };
}

/** Seconds buckets of a database write or a grading: from 5 ms to 2 minutes. */
const SLOW_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Runs counted by `proxima_runs_finished_15m` and `proxima_run_queue_wait_15m_seconds` (the run-failure alert's window). */
const RECENT_WINDOW = "15 minutes";

interface ProximaMetrics {
  leaseTakeovers: PromClient.Counter<"kind">;
  leaseLosses: PromClient.Counter<"kind">;
  runnerLosses: PromClient.Counter;
  runnerReplacements: PromClient.Counter;
  checkpointWrite: PromClient.Histogram;
  workerEnvSteps: PromClient.Counter;
  gradingDuration: PromClient.Histogram<"kind">;
  gradingLatency: PromClient.Histogram<"kind">;
}

let metrics: ProximaMetrics | undefined;

/** Defines every Proxima metric, once per process (prom-client's registry is global). */
export function proximaMetrics(): ProximaMetrics {
  if (metrics) return metrics;
  defineStateGauges();
  metrics = {
    leaseTakeovers: new prom.Counter({
      name: "proxima_lease_takeovers_total",
      help: "Leases this process claimed from another node (expired or handed back), by actor kind (run, sweep).",
      labelNames: ["kind"],
    }),
    leaseLosses: new prom.Counter({
      name: "proxima_lease_losses_total",
      help: "Leases this process found lost at renewal (its actor was fenced), by actor kind.",
      labelNames: ["kind"],
    }),
    runnerLosses: new prom.Counter({
      name: "proxima_runner_losses_total",
      help: "Env runners a run hosted here lost (a sample or an initialisation failed).",
    }),
    runnerReplacements: new prom.Counter({
      name: "proxima_runner_replacements_total",
      help: "Replacement env runners a run hosted here reserved for lost ones.",
    }),
    checkpointWrite: new prom.Histogram({
      name: "proxima_checkpoint_write_seconds",
      help: "Time to store one checkpoint of a run (its database write).",
      buckets: SLOW_BUCKETS,
    }),
    workerEnvSteps: new prom.Counter({
      name: "proxima_worker_env_steps_total",
      help: "Environment steps sampled by this worker's env runners (numSteps × numEnvs per rollout).",
    }),
    gradingDuration: new prom.Histogram({
      name: "proxima_grading_duration_seconds",
      help: "Time to grade one submission, from its claim to its grade, by exercise kind.",
      labelNames: ["kind"],
      buckets: SLOW_BUCKETS,
    }),
    gradingLatency: new prom.Histogram({
      name: "proxima_grading_latency_seconds",
      help: "Time from a submission to its grade (queue wait included), by exercise kind.",
      labelNames: ["kind"],
      buckets: SLOW_BUCKETS,
    }),
  };
  // The known kinds start at 0 (as counters without labels do), so that a first takeover shows in increase().
  for (const kind of ["run", "sweep"]) {
    metrics.leaseTakeovers.inc({ kind }, 0);
    metrics.leaseLosses.inc({ kind }, 0);
  }
  return metrics;
}

/** A node claimed `count` leases of `kind` actors whose holder let them expire or handed them back. */
export function recordLeaseTakeovers(kind: string, count: number): void {
  if (count > 0) proximaMetrics().leaseTakeovers.inc({ kind }, count);
}

/** A node found its lease on a `kind` actor lost and fenced the actor. */
export function recordLeaseLoss(kind: string): void {
  proximaMetrics().leaseLosses.inc({ kind });
}

/** A run lost `count` env runners. */
export function recordRunnerLosses(count = 1): void {
  if (count > 0) proximaMetrics().runnerLosses.inc(count);
}

/** A run reserved a replacement env runner. */
export function recordRunnerReplacement(): void {
  proximaMetrics().runnerReplacements.inc();
}

/** A checkpoint write took `seconds`. */
export function observeCheckpointWrite(seconds: number): void {
  proximaMetrics().checkpointWrite.observe(seconds);
}

/** A worker's runner sampled `steps` environment steps. */
export function recordWorkerEnvSteps(steps: number): void {
  proximaMetrics().workerEnvSteps.inc(steps);
}

/** A submission of an exercise of `kind` was graded: its timestamps (created, claimed, graded). */
export function observeGrading(
  kind: string,
  at: { createdAt: Date; startedAt?: Date | null; finishedAt?: Date | null },
): void {
  const finished = at.finishedAt ?? new Date();
  const m = proximaMetrics();
  m.gradingLatency.observe({ kind }, Math.max(0, (finished.getTime() - at.createdAt.getTime()) / 1000));
  if (at.startedAt)
    m.gradingDuration.observe({ kind }, Math.max(0, (finished.getTime() - at.startedAt.getTime()) / 1000));
}

/** The gauges read at scrape time. */
function defineStateGauges(): void {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  new prom.Gauge({
    name: "proxima_eventloop_lag_seconds",
    help: "Event-loop delay since the previous scrape (perf_hooks.monitorEventLoopDelay), by quantile (1: the maximum).",
    labelNames: ["quantile"],
    collect() {
      // Reset after each read, as prom-client's own nodejs_eventloop_lag_* do: the next scrape sees fresh lag.
      this.set({ quantile: "0.5" }, lag.percentile(50) / 1e9);
      this.set({ quantile: "0.99" }, lag.percentile(99) / 1e9);
      this.set({ quantile: "1" }, lag.max / 1e9);
      lag.reset();
    },
  });

  // Read at the scrape on every process (moleculer's process_memory_rss is sampled every 5 s, and not
  // at all under NODE_ENV=test; prom-client's process_resident_memory_bytes exists on the API only).
  new prom.Gauge({
    name: "proxima_process_resident_memory_bytes",
    help: "Resident set size of this process (process.memoryUsage.rss()).",
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  // Where the memory beyond the V8 heap sits (issue 19's soak: RSS growing with the heap flat points
  // off-heap): Buffers and ArrayBuffers, other native memory V8 knows of (external), the heap itself.
  new prom.Gauge({
    name: "proxima_process_memory_bytes",
    help: "Memory of this process by area (process.memoryUsage(): heap_used, heap_total, external, array_buffers).",
    labelNames: ["area"],
    collect() {
      const mem = process.memoryUsage();
      this.set({ area: "heap_used" }, mem.heapUsed);
      this.set({ area: "heap_total" }, mem.heapTotal);
      this.set({ area: "external" }, mem.external);
      this.set({ area: "array_buffers" }, mem.arrayBuffers);
    },
  });

  new prom.Gauge({
    name: "proxima_draining",
    help: "1 while this process drains (SIGTERM received, not yet stopped).",
    collect() {
      this.set([...sources].some((s) => s.draining || s.broker.stopping === true) ? 1 : 0);
    },
  });

  new prom.Gauge({
    name: "proxima_db_up",
    help: "1 when this process's database answered `select 1` within 2 s at this scrape.",
    async collect() {
      this.reset();
      if (sources.size === 0) return;
      const answers = await Promise.all([...sources].map((s) => s.db.ping()));
      this.set(answers.every(Boolean) ? 1 : 0);
    },
  });

  new prom.Gauge({
    name: "proxima_db_pool_connections",
    help: "PostgreSQL connections of this process's pool, by state (total, idle, waiting: queries queued for one).",
    labelNames: ["state"],
    async collect() {
      this.reset();
      const totals = { total: 0, idle: 0, waiting: 0 };
      for (const pool of await pools()) {
        totals.total += pool.totalCount;
        totals.idle += pool.idleCount;
        totals.waiting += pool.waitingCount;
      }
      for (const [state, value] of Object.entries(totals)) this.set({ state }, value);
    },
  });

  new prom.Gauge({
    name: "proxima_db_pool_max",
    help: "Most PostgreSQL connections this process's pool opens.",
    async collect() {
      this.reset();
      const all = await pools();
      if (all.length > 0) this.set(all.reduce((sum, pool) => sum + (pool.options.max ?? 10), 0));
    },
  });

  const runs = new RunGauges();
  /** A gauge of the runs' state with one label, its values picked from the state read at this scrape. */
  const runsBy = (
    name: string,
    help: string,
    label: string,
    pick: (state: RunsState) => Record<string, number>,
  ) =>
    new prom.Gauge({
      name,
      help,
      labelNames: [label],
      async collect() {
        const state = await runs.read();
        this.reset();
        if (state) for (const [value, n] of Object.entries(pick(state))) this.set({ [label]: value }, n);
      },
    });
  runsBy(
    "proxima_runs",
    "Runs in the database by status (the same on every process hosting runs: take the max).",
    "status",
    (state) => state.byStatus,
  );
  runsBy(
    "proxima_runs_finished_15m",
    `Runs that ended in the last ${RECENT_WINDOW}, by status (completed, failed, stopped).`,
    "status",
    (state) => state.recent,
  );
  runsBy(
    "proxima_run_queue_wait_15m_seconds",
    `Time from creation to first start of the runs that started in the last ${RECENT_WINDOW}, by quantile (0.5, 0.99).`,
    "quantile",
    (state) => state.queueWait,
  );
  new prom.Gauge({
    name: "proxima_runs_queued_oldest_age_seconds",
    help: "Age of the oldest queued run that never started (0 when none waits).",
    async collect() {
      const state = await runs.read();
      this.reset();
      if (state) this.set(state.oldestQueuedAge);
    },
  });
  // Per scheduling pool (contracts/runs.ts RUN_POOLS), labelled `gpu` as proxima_worker_slots is: the
  // ServiceMonitor's `pool` label is a worker pod's pool, another thing.
  runsBy(
    "proxima_run_queue_length",
    "Queued runs waiting for their pool's scheduler to grant them runner slots, by pool (gpu: true, false).",
    "gpu",
    (state) => state.waitingByPool.length,
  );
  runsBy(
    "proxima_run_queue_wait_seconds",
    "How long the longest-waiting run of the pool has waited for its slots since it was queued or resumed (0 when none waits), by pool.",
    "gpu",
    (state) => state.waitingByPool.oldest,
  );
  const perRun = (name: string, help: string, key: "iteration" | "globalStep" | "runners") =>
    new prom.Gauge({
      name,
      help,
      labelNames: ["run"],
      async collect() {
        const state = await runs.read();
        this.reset();
        for (const r of state?.running ?? []) this.set({ run: r.id }, r[key]);
      },
    });
  perRun(
    "proxima_run_iteration",
    "PPO iterations a running run has finished (rate(): iterations/s).",
    "iteration",
  );
  perRun("proxima_run_global_step", "Env steps a running run has taken (rate(): env steps/s).", "globalStep");
  perRun("proxima_run_runners", "Env runners serving a running run now.", "runners");

  new prom.Gauge({
    name: "proxima_worker_slots",
    help: "Env runner slots of this worker, by state (used, free) and whether it is a GPU worker.",
    labelNames: ["state", "gpu"],
    collect() {
      this.reset();
      if (workerSlots.size === 0) return;
      const totals = new Map<string, { used: number; free: number }>();
      for (const read of workerSlots) {
        const { slots, used, gpu, draining } = read();
        const t = totals.get(String(gpu)) ?? { used: 0, free: 0 };
        t.used += used;
        t.free += draining ? 0 : Math.max(0, slots - used);
        totals.set(String(gpu), t);
      }
      for (const [gpu, t] of totals) {
        this.set({ state: "used", gpu }, t.used);
        this.set({ state: "free", gpu }, t.free);
      }
    },
  });

  new prom.Gauge({
    name: "proxima_sandbox_processes",
    help: "Sandbox child processes alive, by kind (job: the grading pool; env: an env defined by code).",
    labelNames: ["kind"],
    collect() {
      for (const [kind, n] of Object.entries(sandboxProcessTally.alive)) this.set({ kind }, n);
    },
  });
  new prom.Counter({
    name: "proxima_sandbox_process_starts_total",
    help: "Sandbox child processes started (first ones and replacements), by kind.",
    labelNames: ["kind"],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(sandboxProcessTally.started)) this.inc({ kind }, n);
    },
  });
  new prom.Counter({
    name: "proxima_sandbox_process_exits_total",
    help: "Sandbox child processes ended, by kind and reason (crash: died by itself; killed: past a deadline or retired; stopped: closed).",
    labelNames: ["kind", "reason"],
    collect() {
      this.reset();
      for (const [key, n] of Object.entries(sandboxProcessTally.exits)) {
        const [kind, reason] = key.split(":") as [string, string];
        this.inc({ kind, reason }, n);
      }
    },
  });
}

/** The `pg` pools of the registered databases (one that cannot be read, say closing, is left out). */
async function pools(): Promise<PgPoolCounts[]> {
  const read = await Promise.all(
    [...sources].map((s) =>
      s.db.orm.em
        .getConnection()
        .getNativeClient()
        .then(
          (pool) => pool as PgPoolCounts,
          () => undefined,
        ),
    ),
  );
  return read.filter((p) => p !== undefined);
}

/** The counters of a `pg` Pool (MikroORM's native client). */
interface PgPoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

interface RunsState {
  byStatus: Record<string, number>;
  recent: Record<string, number>;
  oldestQueuedAge: number;
  /** By quantile; empty when no run started in the window. */
  queueWait: Record<string, number>;
  running: { id: string; iteration: number; globalStep: number; runners: number }[];
  /** Queued runs not yet granted slots, and the longest wait, by pool ("true": GPU, "false": CPU). */
  waitingByPool: { length: Record<string, number>; oldest: Record<string, number> };
}

/**
 * The runs' state, read once per scrape for the several gauges that show it (each gauge's collect asks;
 * one query round serves the reads of the same second), from a process hosting `runs` whose database
 * answers. None: no gauge value (a scrape of a process without runs, or with its database down).
 */
class RunGauges {
  private last: { at: number; state: Promise<RunsState | undefined> } | undefined;

  read(): Promise<RunsState | undefined> {
    const now = Date.now();
    if (this.last && now - this.last.at < 1000) return this.last.state;
    const state = this.query().catch(() => undefined);
    this.last = { at: now, state };
    return state;
  }

  private async query(): Promise<RunsState | undefined> {
    const source = [...sources].find((s) => s.services.includes("runs"));
    if (!source || !(await source.db.ping())) return undefined;
    const conn = source.db.orm.em.getConnection();
    const [counts, recent, oldest, waits, running, waiting] = await Promise.all([
      conn.execute<{ status: string; n: string }[]>(
        `select "status", count(*) as "n" from "runs" group by "status"`,
      ),
      conn.execute<{ status: string; n: string }[]>(
        `select "status", count(*) as "n" from "runs"
          where "finished_at" > now() - interval '${RECENT_WINDOW}' group by "status"`,
      ),
      conn.execute<{ age: number | null }[]>(
        `select extract(epoch from now() - min("created_at"))::float8 as "age" from "runs"
          where "status" = 'queued' and "started_at" is null`,
      ),
      // started_at is the first start (a resume keeps it): the wait is the queue's, once per run.
      conn.execute<{ p50: number | null; p99: number | null }[]>(
        `select percentile_cont(0.5) within group (order by "wait") as "p50",
                percentile_cont(0.99) within group (order by "wait") as "p99"
           from (select extract(epoch from "started_at" - "created_at")::float8 as "wait" from "runs"
                  where "started_at" > now() - interval '${RECENT_WINDOW}') as "started"`,
      ),
      conn.execute<{ id: string; iteration: number; global_step: string; runners_active: number }[]>(
        `select "id", "iteration", "global_step", "runners_active" from "runs" where "status" = 'running'`,
      ),
      conn.execute<{ gpu: boolean; n: string; oldest: number }[]>(
        `select coalesce(("resources"->>'gpu')::boolean, false) as "gpu", count(*) as "n",
                extract(epoch from now() - min("queued_at"))::float8 as "oldest"
           from "runs" where "status" = 'queued' and "granted_at" is null group by 1`,
      ),
    ]);
    const waitingByPool = {
      length: { true: 0, false: 0 } as Record<string, number>,
      oldest: { true: 0, false: 0 } as Record<string, number>,
    };
    for (const row of waiting) {
      waitingByPool.length[String(row.gpu)] = Number(row.n);
      waitingByPool.oldest[String(row.gpu)] = Math.max(0, row.oldest);
    }
    const byStatus: Record<string, number> = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0]));
    for (const row of counts) byStatus[row.status] = Number(row.n);
    const finished: Record<string, number> = { completed: 0, failed: 0, stopped: 0 };
    for (const row of recent) finished[row.status] = Number(row.n);
    return {
      byStatus,
      recent: finished,
      oldestQueuedAge: Math.max(0, oldest[0]?.age ?? 0),
      queueWait:
        waits[0]?.p50 == null
          ? {}
          : { "0.5": Math.max(0, waits[0].p50), "0.99": Math.max(0, waits[0].p99 ?? 0) },
      waitingByPool,
      running: running.map((r) => ({
        id: r.id,
        iteration: r.iteration,
        globalStep: Number(r.global_step),
        runners: r.runners_active,
      })),
    };
  }
}
