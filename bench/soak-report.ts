/**
 * What `npm run bench:soak` computes from what it measured: latency and errors by kind of request,
 * queue wait and fair-share deviation from the runs' own timestamps, and a growth test of each
 * process's samples after warm-up. Pure functions (the soak's test checks their output's shape).
 */
import type { PublicRun } from "../contracts/runs.ts";
import type { LoadStats } from "./soak-learners.ts";

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Kinds that only read: the goal p99 < 50 ms holds for them. */
export const READ_KINDS = new Set(["runs.list", "runs.get", "runs.metrics", "exercises.list"]);

export interface KindSummary {
  kind: string;
  requests: number;
  "2xx": number;
  "4xx": number;
  "5xx": number;
  /** No answer (connection refused or reset), or a WebSocket closed by the server unasked. */
  other: number;
  p50: number;
  p99: number;
  max: number;
  /** 4xx answers by status. */
  clientErrors: Record<string, number>;
  /** 5xx answers by status, and "neterr" / "ws-<close code>" for the others. */
  serverErrors: Record<string, number>;
}

export function summarizeKinds(stats: LoadStats): KindSummary[] {
  return Object.entries(stats.kinds)
    .map(([kind, k]) => {
      const sorted = [...k.latencies].sort((a, b) => a - b);
      const byClass = { "2xx": 0, "4xx": 0, "5xx": 0, other: 0 };
      const clientErrors: Record<string, number> = {};
      const serverErrors: Record<string, number> = {};
      for (const [status, n] of Object.entries(k.statuses)) {
        if (/^[123]\d\d$/.test(status)) byClass["2xx"] += n;
        else if (/^4\d\d$/.test(status)) {
          byClass["4xx"] += n;
          clientErrors[status] = n;
        } else if (/^5\d\d$/.test(status)) {
          byClass["5xx"] += n;
          serverErrors[status] = n;
        } else {
          byClass.other += n;
          serverErrors[status] = n;
        }
      }
      const requests = Object.values(k.statuses).reduce((a, b) => a + b, 0);
      return {
        kind,
        requests,
        ...byClass,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted.at(-1) ?? Number.NaN,
        clientErrors,
        serverErrors,
      };
    })
    .sort((a, b) => a.kind.localeCompare(b.kind));
}

/**
 * Reads slower than `thresholdMs`, counted by the minute they were sent in (all read kinds together):
 * whether a read tail is spread evenly over the soak or comes in bursts (a run starting, a
 * checkpoint of the database) is the first thing to know about it.
 */
export function slowReadsByMinute(
  stats: LoadStats,
  thresholdMs: number,
): { reads: number[]; slow: number[] } {
  const reads: number[] = [];
  const slow: number[] = [];
  for (const [kind, k] of Object.entries(stats.kinds)) {
    if (!READ_KINDS.has(kind)) continue;
    k.latencies.forEach((ms, i) => {
      const minute = Math.max(0, Math.floor(k.sentAt[i]! / 60_000));
      for (const arr of [reads, slow]) while (arr.length <= minute) arr.push(0);
      reads[minute]!++;
      if (ms > thresholdMs) slow[minute]!++;
    });
  }
  return { reads, slow };
}

export interface QueueSummary {
  runs: number;
  started: number;
  /** Runs still queued when the soak ended (their wait is at least until then). */
  neverStarted: number;
  /** createdAt → startedAt of the runs that started, seconds. */
  waitP50: number;
  waitP99: number;
  waitMax: number;
  fairShare: FairShareSummary;
  /** A queue-position field of the run, if this checkout's API has one (the fair-share scheduler's). */
  queueField: string | null;
}

/**
 * Fair-share deviation, as issue 19 defines the order ("the owner with the smallest current share
 * (runner-slots in use ÷ the role's weight) first"). At each start of a run (its startedAt, t), from
 * the runs' own timestamps: an owner's share is the runner slots its runs hold just before t (runs
 * with startedAt < t and no finishedAt ≤ t, `resources.runners` each) ÷ its weight (1: every soak
 * account is a learner); the queued owners are those with a run created ≤ t, not started before t
 * and not finished by t (the starting run's owner among them). The deviation of the start is
 * share(owner of the started run) − min share over the queued owners: 0 when the start went to an
 * owner with the smallest share, k when k slots' worth of a fairer owner was passed over.
 */
export interface FairShareSummary {
  starts: number;
  /** Starts whose deviation was above 0. */
  unfair: number;
  mean: number;
  p99: number;
  max: number;
  /** Starts at which more than one owner had a run queued (the only ones where order can matter). */
  contended: number;
}

export function fairShare(runs: readonly PublicRun[]): FairShareSummary {
  const ms = (s: string | null) => (s === null ? Number.POSITIVE_INFINITY : Date.parse(s));
  const timeline = runs.map((r) => ({
    owner: r.ownerId,
    runners: r.resources.runners,
    created: ms(r.createdAt),
    started: ms(r.startedAt),
    finished: ms(r.finishedAt),
  }));
  const deviations: number[] = [];
  let contended = 0;
  for (const run of timeline
    .filter((r) => Number.isFinite(r.started))
    .sort((a, b) => a.started - b.started)) {
    const t = run.started;
    const share = new Map<string, number>();
    const queued = new Set<string>();
    for (const r of timeline) {
      if (r.started < t && r.finished > t) share.set(r.owner, (share.get(r.owner) ?? 0) + r.runners);
      if (r.created <= t && r.started >= t && r.finished > t) queued.add(r.owner);
    }
    queued.add(run.owner);
    if (queued.size > 1) contended++;
    const min = Math.min(...[...queued].map((o) => share.get(o) ?? 0));
    deviations.push((share.get(run.owner) ?? 0) - min);
  }
  const sorted = deviations.sort((a, b) => a - b);
  return {
    starts: sorted.length,
    unfair: sorted.filter((d) => d > 0).length,
    mean: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    contended,
  };
}

export function queueSummary(runs: readonly PublicRun[], endedAt: number): QueueSummary {
  const started = runs.filter((r) => r.startedAt !== null);
  const waits = started
    .map((r) => (Date.parse(r.startedAt!) - Date.parse(r.createdAt)) / 1000)
    .sort((a, b) => a - b);
  const queueField =
    runs.flatMap((r) => Object.keys(r)).find((k) => /queue|position/i.test(k) && k !== "status") ?? null;
  return {
    runs: runs.length,
    started: started.length,
    neverStarted: runs.filter(
      (r) => r.startedAt === null && r.status === "queued" && Date.parse(r.createdAt) < endedAt,
    ).length,
    waitP50: percentile(waits, 0.5),
    waitP99: percentile(waits, 0.99),
    waitMax: waits.at(-1) ?? Number.NaN,
    fairShare: fairShare(runs),
    queueField,
  };
}

/** One sample of one process. */
export interface ProcessSample {
  /** Seconds since the soak's load began. */
  t: number;
  rssMiB: number | null;
  heapMiB: number | null;
  fds: number | null;
  /** The V8 heap's committed size (heapTotal: what it holds in RSS, used or not), MiB. */
  heapTotalMiB?: number | null;
  /** Off the V8 heap (process.memoryUsage()): native memory V8 knows of, and the Buffers/ArrayBuffers within it. */
  externalMiB?: number | null;
  arrayBuffersMiB?: number | null;
  /** The RSS split (/proc/<pid>/status): anonymous (malloc, V8, native), file-backed (code, mapped files). */
  rssAnonMiB?: number | null;
  rssFileMiB?: number | null;
  /** Event-loop delay over the last interval (perf_hooks.monitorEventLoopDelay), ms. */
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  /** CPU time over the last interval ÷ its wall time, percent of one core. */
  cpuPct: number | null;
}

export interface Trend {
  /** Least-squares slope over the samples after warm-up, per minute. */
  slopePerMin: number;
  /** The slope ÷ its standard error (large: the growth is not noise). */
  t: number;
  mean: number;
  /** slopePerMin × 30 ÷ mean: what a 30-minute soak would add, as a fraction of the level. */
  growthPer30Min: number;
  /** Flagged as growth: t > 3 and growthPer30Min above the threshold (10%; 5 descriptors for FDs). */
  growing: boolean;
  /** The same fit over the later half of those samples (null: too few). */
  late: { slopePerMin: number; t: number } | null;
  /**
   * Growing over the whole window but not in its later half (the later slope under a third of the
   * whole one, or not above its noise, t < 2): a level still settling after warm-up, which a leak does
   * not do (it grows as fast in both halves). Only a longer soak tells them apart for sure.
   */
  settling: boolean;
}

/** Ordinary least squares of y on x, with the slope's standard error (0 samples or 1: null). */
export function slope(
  points: readonly [number, number][],
): { slope: number; se: number; mean: number } | null {
  const n = points.length;
  if (n < 3) return null;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  const a = my - b * mx;
  const sse = points.reduce((s, [x, y]) => s + (y - a - b * x) ** 2, 0);
  return { slope: b, se: Math.sqrt(sse / (n - 2) / sxx), mean: my };
}

/** The sampled series a growth trend is fitted to. */
export const TREND_KEYS = [
  "rssMiB",
  "heapMiB",
  "fds",
  "heapTotalMiB",
  "externalMiB",
  "arrayBuffersMiB",
  "rssAnonMiB",
  "rssFileMiB",
] as const;
export type TrendKey = (typeof TREND_KEYS)[number];

export function trend(samples: readonly ProcessSample[], key: TrendKey, warmupS: number): Trend | null {
  const points = samples
    .filter((s) => s.t >= warmupS && s[key] !== null && s[key] !== undefined)
    .map((s) => [s.t / 60, s[key]!] as [number, number]);
  const fit = fitTrend(points);
  if (!fit) return null;
  const growth = (fit.slopePerMin * 30) / fit.mean;
  const big = key === "fds" ? fit.slopePerMin * 30 > 5 : growth > 0.1;
  const growing = fit.t > 3 && big;
  const late = fitTrend(points.slice(Math.floor(points.length / 2)));
  return {
    slopePerMin: fit.slopePerMin,
    t: fit.t,
    mean: fit.mean,
    growthPer30Min: growth,
    growing,
    late: late && { slopePerMin: late.slopePerMin, t: late.t },
    settling: growing && late !== null && (late.t < 2 || late.slopePerMin < fit.slopePerMin / 3),
  };
}

/** Slope per minute, its t-statistic and the mean of (minutes, value) points; null under 6 points. */
function fitTrend(points: [number, number][]): { slopePerMin: number; t: number; mean: number } | null {
  // Fewer than 6 samples (a minute at the default interval) fit noise, not a trend.
  const fit = points.length < 6 ? null : slope(points);
  if (!fit) return null;
  const t = fit.se === 0 ? (fit.slope === 0 ? 0 : Number.POSITIVE_INFINITY) : fit.slope / fit.se;
  return { slopePerMin: fit.slope, t, mean: fit.mean };
}
