import test from "ava";
import { createAccounts, LearnerLoad, listAllRuns } from "../../bench/soak-learners.ts";
import {
  fairShare,
  queueSummary,
  slowReadsByMinute,
  summarizeKinds,
  trend,
} from "../../bench/soak-report.ts";
import type { PublicRun } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitUntil } from "../helpers/wait.ts";

/** bench:soak's learners (bench/soak-learners.ts) against one real platform, and what its report computes. */
const platform = useTestPlatform(test, {
  SERVICES: "api,users,tickets,runs,workers,submissions",
  SUBMISSIONS_POOL_SIZE: "1",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  RUN_EVAL_EPISODES: "1",
  ACCESS_TOKEN_TTL_S: "30",
});

test("a few soak learners log in, refresh, keep a socket, read, submit and launch runs, with no 5xx", async (t) => {
  const api = platform();
  const admin = await api.loginAdmin();
  const accounts = await createAccounts(api.url, async () => admin.accessToken, 3, 2, "soak-test");
  const load = new LearnerLoad({
    apiUrl: api.url,
    accounts,
    rampMs: 0,
    until: Date.now() + 600_000,
    thinkMs: 100,
    maxRps: 100,
    maxRuns: 3,
    runsPerMin: 600,
    submissionsPerMin: 600,
    runQuota: 2,
    // A refresh a second and a half after each login or refresh (30 s tokens), so that the test sees some.
    refreshAt: 0.05,
  });
  const running = load.run();
  const count = (kind: string) =>
    Object.values(load.stats.kinds[kind]?.statuses ?? {}).reduce((a, b) => a + b, 0);
  await waitUntil(
    () =>
      count("auth.refresh") >= 3 &&
      count("ws.open") >= 6 &&
      count("runs.create") >= 1 &&
      count("submissions.create") >= 1 &&
      count("runs.metrics") >= 1,
    () => `every kind of request from the learners: ${JSON.stringify(summarizeKinds(load.stats))}`,
  );
  load.stop();
  const stats = await running;

  const kinds = summarizeKinds(stats);
  t.is(stats.learnersLoggedIn, 3);
  for (const k of kinds) {
    t.is(k["5xx"], 0, `${k.kind}: ${stats.errorSamples.join("; ")}`);
    t.is(k.other, 0, `${k.kind}: ${stats.errorSamples.join("; ")}`);
    t.true(k.p50 <= k.p99 && k.p99 <= k.max, k.kind);
  }
  const runs = (await listAllRuns(api.url, admin.accessToken)).filter((r) => stats.runIds.includes(r.id));
  t.is(runs.length, stats.runsLaunched);
  const queue = queueSummary(runs, Date.now());
  t.is(queue.runs, runs.length);
  t.is(typeof queue.fairShare.starts, "number");
});

test("slow reads are counted by the minute they were sent in, reads only, against all reads of that minute", (t) => {
  const kinds = {
    "runs.list": { latencies: [3, 80, 4, 51], sentAt: [1_000, 2_000, 61_000, 125_000], statuses: {} },
    "exercises.list": { latencies: [60], sentAt: [65_000], statuses: {} },
    "auth.login": { latencies: [400], sentAt: [1_000], statuses: {} },
  };
  const stats = { kinds } as unknown as Parameters<typeof slowReadsByMinute>[0];
  t.deepEqual(slowReadsByMinute(stats, 50), { reads: [2, 2, 1], slow: [1, 1, 1] });
});

const run = (ownerId: string, created: number, started: number | null, finished: number | null): PublicRun =>
  ({
    ownerId,
    resources: { runners: 1, envsPerRunner: 1, gpu: false },
    createdAt: new Date(created).toISOString(),
    startedAt: started === null ? null : new Date(started).toISOString(),
    finishedAt: finished === null ? null : new Date(finished).toISOString(),
  }) as PublicRun;

test("fair-share deviation: a start for an owner holding a slot while another owner with none waits counts one slot", (t) => {
  // A runs one, queues a second; B queues at 1 s; the slot that frees at 5 s goes to A's second run.
  const unfair = fairShare([run("A", 0, 0, null), run("A", 0, 5000, null), run("B", 1000, 6000, null)]);
  t.like(unfair, { starts: 3, unfair: 1, max: 1, contended: 1 });
  // The same with B first: every start went to an owner with the smallest share.
  const fair = fairShare([run("A", 0, 0, null), run("A", 0, 6000, null), run("B", 1000, 5000, null)]);
  t.like(fair, { starts: 3, unfair: 0, max: 0 });
});

/** `length` samples 10 s apart with the RSS `f(i)` and everything else flat. */
const samplesOf = (f: (i: number) => number, length: number) =>
  Array.from({ length }, (_, i) => ({
    t: i * 10,
    rssMiB: f(i),
    heapMiB: 50,
    fds: 30,
    lagP99Ms: 1,
    lagMaxMs: 2,
    cpuPct: 1,
  }));

test("the growth test flags a steady climb after warm-up and not a flat series", (t) => {
  const samples = (f: (i: number) => number) => samplesOf(f, 30);
  t.true(
    trend(
      samples((i) => 200 + i * 2 + (i % 2)),
      "rssMiB",
      60,
    )?.growing,
  );
  t.false(
    trend(
      samples((i) => 200 + (i % 3)),
      "rssMiB",
      60,
    )?.growing,
  );
  t.false(
    trend(
      samples(() => 200),
      "fds",
      60,
    )?.growing,
  );
});

test("the growth test tells a level still settling after warm-up from a steady climb by the later half's slope", (t) => {
  const samples = (f: (i: number) => number) => samplesOf(f, 40);
  // A leak: as steep in the later half as over the whole window.
  const climb = trend(
    samples((i) => 200 + i * 2 + (i % 2)),
    "rssMiB",
    60,
  );
  t.like(climb, { growing: true, settling: false });
  // A dip at the end of warm-up, then a flat level: a slope over the whole window, none later.
  const settle = trend(
    samples((i) => (i < 14 ? 160 + i * 5 : 230 + (i % 3))),
    "rssMiB",
    60,
  );
  t.like(settle, { growing: true, settling: true });
  t.true(Math.abs(settle!.late!.slopePerMin) < 1);
});
