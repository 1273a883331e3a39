/**
 * `npm run bench:reads`: where the time of the soak's run pages goes (issue 19: reads p99 < 50 ms).
 * The three reads a learner makes (bench/soak-learners.ts) — its runs list (`GET /runs?limit=20`), a
 * run (`GET /runs/:id`), a run's metrics (`GET /runs/:id/metrics?maxPoints=200`) — on the real path:
 * `npm run cluster`'s api and controller (scripts/local-cluster.ts; no workers: the seeded active runs
 * are leased to a node that does not exist, so nothing trains or moves them), over the local NATS, on a
 * database of their own seeded with a population (below).
 *
 * Each read is timed at four depths, each a closed loop of `--concurrency` callers for `--seconds`:
 * - `http`: the API from this process (fetch, the whole body read), as the soak's learners time it;
 * - `nats`: the runs service's action from a broker in this process, over NATS (no API);
 * - `handler`: the action's own code (services/runs/records.ts) in this process, on its own ORM;
 * - `sql`: the ORM's queries of those handler calls, each timed by the ORM's query log.
 * Then one EXPLAIN (ANALYZE, BUFFERS) of each query the handlers issue, for the heaviest run.
 *
 * Usage: npm run bench:reads [-- --users 1000 --concurrency 8 --seconds 15 --label before --readme]
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { MikroORM } from "@mikro-orm/postgresql";
import { ServiceBroker } from "moleculer";
import pg from "pg";
import { loadConfig } from "../config.ts";
import { MetricPoint } from "../db/entities/MetricPoint.ts";
import { ormOptions } from "../db/orm.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { LocalCluster } from "../scripts/local-cluster.ts";
import { call } from "../services/actions.ts";
import {
  downsampleIndices,
  listRuns,
  metricHistory,
  toPublicRun,
  visibleRun,
  visibleRunId,
} from "../services/runs/records.ts";
import { resolveRun } from "../services/runs/resolve.ts";
import { resolveJwtSecret } from "../services/users/jwt-secret.ts";
import { signAccessToken } from "../services/users/tokens.ts";
import { freePort, writeReadmeSection } from "./common.ts";
import { createBenchDatabase, NATS_URL } from "./scale-cluster.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "8" },
    seconds: { type: "string", default: "15" },
    label: { type: "string", default: "this checkout" },
    readme: { type: "boolean", default: false },
  },
});
const USERS = Number(values.users);
const CONCURRENCY = Number(values.concurrency);
const SECONDS = Number(values.seconds);

const KINDS = ["runs.list", "runs.get", "runs.metrics"] as const;
type Kind = (typeof KINDS)[number];

/** One learner of the population: its id and its runs (not trials), the heaviest last. */
interface Learner {
  id: string;
  runs: string[];
}

/** 12 metric keys per point, CleanRL's names, as a run's iteration records them. */
const METRIC_KEYS = [
  "charts/episodic_return",
  "charts/episodic_length",
  "charts/learning_rate",
  "charts/SPS",
  "losses/value_loss",
  "losses/policy_loss",
  "losses/entropy",
  "losses/old_approx_kl",
  "losses/approx_kl",
  "losses/clipfrac",
  "losses/explained_variance",
  "charts/eval_return",
];
const METRICS_SQL = `jsonb_build_object(${METRIC_KEYS.map((k) => `'${k}', random() * 500`).join(", ")})`;

/**
 * The population, in SQL (seconds rather than minutes): per learner a completed run of 100 points, a
 * second completed one of 500 points (one learner in 4; else 50), a running one (50 points) and a
 * queued one, both leased for a day to a node that does not exist; one learner in 20 also has a long
 * run of 5,000 points, one in 10 a finished sweep of 8 trials (50 points each).
 */
async function seed(url: string, users: number): Promise<Learner[]> {
  const { config, resources } = resolveRun({ env: "CartPole-v1", totalSteps: 500_000 });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `insert into "users" ("id", "email", "name", "role", "password_hash", "created_at", "updated_at")
       select gen_random_uuid(), 'learner-' || i || '@bench.local', 'Learner ' || i, 'learner', 'unused', now(), now()
       from generate_series(1, $1) i`,
      [users],
    );
    // kind: a completed 100, b completed 500|50, r running, q queued, l long (5,000), t sweep trial.
    await client.query(
      `create temporary table plan as
       select u.id as owner_id, u.n, k.kind, k.points, k.trial
       from (select "id", row_number() over (order by "email") as n from "users") u
       cross join lateral (values ('a', 100, null::int), ('b', case when u.n % 4 = 0 then 500 else 50 end, null),
         ('r', 50, null), ('q', 0, null)) k(kind, points, trial)
       union all select u.id, u.n, 'l', 5000, null from (select "id", row_number() over (order by "email") as n from "users") u where u.n % 20 = 0
       union all select u.id, u.n, 't', 50, t from (select "id", row_number() over (order by "email") as n from "users") u
         cross join generate_series(0, 7) t where u.n % 10 = 0`,
    );
    await client.query(
      `insert into "runs" ("id", "owner_id", "name", "tags", "sweep_id", "trial_index", "env_id", "preset", "config",
         "seed", "total_steps", "resources", "status", "iteration", "global_step", "owner_node", "lease_until",
         "lease_epoch", "runners_active", "queued_at", "granted_at", "version", "created_at", "updated_at",
         "started_at", "finished_at")
       select gen_random_uuid(), p.owner_id, 'run ' || p.kind, '{bench}',
         case when p.kind = 't' then md5(p.owner_id::text || 'sweep')::uuid end, p.trial, 'CartPole-v1', 'cleanrl', $1::jsonb,
         1, 500000, $2::jsonb,
         case p.kind when 'r' then 'running' when 'q' then 'queued' else 'completed' end,
         p.points, p.points * 512,
         case when p.kind in ('r', 'q') then 'bench-ghost' end,
         case when p.kind in ('r', 'q') then now() + interval '1 day' end,
         1, case when p.kind = 'r' then 1 else 0 end,
         now() - interval '1 hour', case when p.kind = 'r' then now() - interval '50 minutes' end, 1,
         now() - (random() * interval '30 days'), now(),
         case when p.kind <> 'q' then now() - interval '50 minutes' end,
         case when p.kind not in ('r', 'q') then now() - interval '10 minutes' end
       from plan p`,
      [JSON.stringify(config), JSON.stringify(resources)],
    );
    await client.query(
      `insert into "metric_points" ("id", "run_id", "iteration", "global_step", "wall_time", "metrics")
       select gen_random_uuid(), r.id, i, i * 512, r.started_at + i * interval '1 second', ${METRICS_SQL}
       from "runs" r cross join lateral generate_series(1, r.iteration) i`,
    );
    await client.query(`analyze`);
    const rows = await client.query<{ owner_id: string; ids: string[] }>(
      `select "owner_id", array_agg("id" order by "iteration") as ids from "runs"
       where "sweep_id" is null group by "owner_id"`,
    );
    return rows.rows.map((r) => ({ id: r.owner_id, runs: r.ids }));
  } finally {
    await client.end();
  }
}

/** p-th percentile (nearest rank) of sorted values. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

type Timings = Record<Kind, number[]>;
const emptyTimings = (): Timings => ({ "runs.list": [], "runs.get": [], "runs.metrics": [] });

/** A random learner and one of its runs, from a seeded generator so that every depth asks the same. */
function picker(learners: Learner[]) {
  let s = 0x9e3779b9;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return (): { kind: Kind; learner: Learner; runId: string } => {
    const learner = learners[Math.floor(rand() * learners.length)]!;
    const kind = KINDS[Math.floor(rand() * KINDS.length)]!;
    const runId = learner.runs[Math.floor(rand() * learner.runs.length)]!;
    return { kind, learner, runId };
  };
}

/** `concurrency` callers for `seconds`, each timing `one` back to back. */
async function closedLoop(
  learners: Learner[],
  one: (kind: Kind, learner: Learner, runId: string) => Promise<void>,
  seconds: number,
): Promise<Timings> {
  const out = emptyTimings();
  const next = picker(learners);
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const { kind, learner, runId } = next();
        const t0 = performance.now();
        await one(kind, learner, runId);
        out[kind].push(performance.now() - t0);
      }
    }),
  );
  for (const k of KINDS) out[k].sort((a, b) => a - b);
  return out;
}

/** The ORM's query log lines, with the time each took ("[query] … [took 3 ms, 1 result]"). */
class QueryLog {
  readonly lines: { sql: string; ms: number }[] = [];
  write = (message: string) => {
    const m = /^\[query\] (.*) \[took (\d+(?:\.\d+)?) ms/s.exec(message);
    if (m) this.lines.push({ sql: m[1]!, ms: Number(m[2]) });
  };
}

async function main(): Promise<void> {
  const say = (m: string) => process.stdout.write(`[reads] ${m}\n`);
  const load = () => os.loadavg()[0]!.toFixed(1);
  const db = await createBenchDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "proxima-reads-"));
  const namespace = `reads-${process.pid}`;
  const cluster = new LocalCluster({
    workers: 0,
    slots: 0,
    apiPort: await freePort(),
    healthBase: 0,
    graceMs: 10_000,
    dataDir,
    namespace,
    json: true,
    write: () => {},
    natsUrl: NATS_URL,
    databaseUrl: db.url,
    env: { NODE_ENV: "development", LOG_LEVEL: "warn", API_RATE_LIMIT_PER_MIN: "100000000" },
  });
  const config = loadConfig({ NATS_URL, MOLECULER_NAMESPACE: namespace, LOG_LEVEL: "warn" });
  const broker = new ServiceBroker({
    ...createBrokerOptions(config, [], createRootLogger(config)),
    nodeID: `reads-bench-${process.pid}`,
  });
  const queries = new QueryLog();
  let orm: MikroORM | undefined;
  let quietOrm: MikroORM | undefined;
  process.on("exit", () => cluster.kill());
  try {
    say(`starting the cluster (api + controller, no workers); load ${load()}`);
    // The cluster migrates the database before its services start: seed once it has, before the
    // controller's first scans (they see nothing to claim: the active runs are leased for a day).
    const started = cluster.start();
    const ready = await started;
    if (!ready?.ok) throw new Error(`the cluster did not come up: ${ready?.missing.join("; ")}`);
    const t0 = performance.now();
    const learners = await seed(db.url, USERS);
    const runs = learners.reduce((n, l) => n + l.runs.length, 0);
    say(
      `seeded ${learners.length} learners, ${runs} runs of their own in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const secret = await resolveJwtSecret(
      { NODE_ENV: "development", PROXIMA_DATA_DIR: dataDir },
      createRootLogger({ LOG_LEVEL: "silent", NODE_ENV: "development" }),
    );
    const tokens = new Map(
      learners.map((l) => [
        l.id,
        signAccessToken(
          { sub: l.id, role: "learner" },
          { secret, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, ttlSeconds: 3600 },
        ),
      ]),
    );
    const api = `${cluster.apiUrl}/api/v1`;
    const paths: Record<Kind, (runId: string) => string> = {
      "runs.list": () => "/runs?limit=20",
      "runs.get": (id) => `/runs/${id}`,
      "runs.metrics": (id) => `/runs/${id}/metrics?maxPoints=200`,
    };
    const http = async (kind: Kind, learner: Learner, runId: string) => {
      const res = await fetch(`${api}${paths[kind](runId)}`, {
        headers: { authorization: `Bearer ${tokens.get(learner.id)}` },
      });
      if (res.status !== 200) throw new Error(`${kind}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    await broker.start();
    await broker.waitForServices(["runs"], 30_000);
    const nats = async (kind: Kind, learner: Learner, runId: string) => {
      const caller = { userId: learner.id, role: "learner" as const };
      if (kind === "runs.list") await call(broker, "runs.list", { ...caller, limit: 20 });
      else if (kind === "runs.get") await call(broker, "runs.get", { ...caller, runId });
      else await call(broker, "runs.metrics", { ...caller, runId, maxPoints: 200 });
    };
    // Two ORMs: the handlers timed without the query log (formatting each query costs), then with it.
    // "trace" turns on the ORM's `query-params` namespace: the log then holds each query with its
    // values, which the EXPLAINs below need ("debug" logs `?` placeholders, which PostgreSQL refuses).
    orm = await MikroORM.init(ormOptions(db.url, { logLevel: "trace", log: queries.write }));
    quietOrm = await MikroORM.init(ormOptions(db.url));
    const loggedOrm = orm;
    let handlerOrm = quietOrm;
    // The handlers as runs.service.ts runs them (one fork per action), in this process.
    const handler = async (kind: Kind, learner: Learner, runId: string) => {
      const caller = { userId: learner.id, role: "learner" as const };
      const em = handlerOrm.em.fork();
      if (kind === "runs.list") await listRuns(em, caller, { trials: "exclude", limit: 20 });
      else if (kind === "runs.get") toPublicRun(await visibleRun(em, runId, caller));
      else await metricHistory(em, await visibleRunId(em, runId, caller), 0, 200);
    };
    // The metrics read as it was before bench:reads (commit 867fd41): the whole run read as an entity for
    // its owner, every point hydrated as an entity, the 200 chosen in JS. Timed beside the new one.
    const entityMetrics = async (kind: Kind, learner: Learner, runId: string) => {
      if (kind !== "runs.metrics") return handler(kind, learner, runId);
      const em = handlerOrm.em.fork();
      const run = await visibleRun(em, runId, { userId: learner.id, role: "learner" });
      const rows = await em.find(
        MetricPoint,
        { run: run.id, iteration: { $gte: 0 } },
        { orderBy: { iteration: "asc" } },
      );
      downsampleIndices(rows.length, 200).map((i) => {
        const m = rows[i]!;
        return {
          iteration: m.iteration,
          globalStep: m.globalStep,
          wallTime: m.wallTime.toISOString(),
          metrics: m.metrics,
        };
      });
    };

    const depths: [string, (k: Kind, l: Learner, r: string) => Promise<void>][] = [
      ["http", http],
      ["nats", nats],
      ["handler", handler],
      ["handler, metrics as before", entityMetrics],
    ];
    const results: Record<string, Timings> = {};
    const loads: string[] = [];
    for (const [name, fn] of depths) {
      // Warm-up: the JIT, the pools, PostgreSQL's cache.
      await closedLoop(learners, fn, Math.min(5, SECONDS));
      results[name] = await closedLoop(learners, fn, SECONDS);
      loads.push(load());
      say(`${name}: done (load ${load()})`);
    }
    handlerOrm = loggedOrm;
    // SQL: the handler's queries, timed by the ORM, per read kind (a second handler pass, one kind at a time).
    const sql: Record<Kind, { count: number; perRead: number; ms: number[] }> = {} as never;
    for (const kind of KINDS) {
      queries.lines.length = 0;
      const next = picker(learners);
      let reads = 0;
      const until = performance.now() + 3000;
      const perRead: number[] = [];
      while (performance.now() < until) {
        const { learner, runId } = next();
        const before = queries.lines.length;
        await handler(kind, learner, runId);
        perRead.push(queries.lines.slice(before).reduce((s, q) => s + q.ms, 0));
        reads++;
      }
      perRead.sort((a, b) => a - b);
      sql[kind] = { count: queries.lines.length, perRead: queries.lines.length / reads, ms: perRead };
    }
    const f = (x: number) => x.toFixed(1);
    const lines = [
      `Measured ${new Date().toISOString()} (${values.label}) with \`npm run bench:reads -- --users ${USERS} --concurrency ${CONCURRENCY} --seconds ${SECONDS}\`: ${learners.length} learners, ${runs} runs of their own (+ sweep trials); load average (1 min) after each depth: ${loads.join(", ")}.`,
      "",
      "| read | depth | reads | p50 ms | p90 ms | p99 ms | max ms |",
      "|---|---|---|---|---|---|---|",
    ];
    for (const kind of KINDS) {
      for (const [name] of depths) {
        if (name === "handler, metrics as before" && kind !== "runs.metrics") continue;
        const t = results[name]![kind];
        lines.push(
          `| ${kind} | ${name} | ${t.length} | ${f(pct(t, 50))} | ${f(pct(t, 90))} | ${f(pct(t, 99))} | ${f(t.at(-1) ?? Number.NaN)} |`,
        );
      }
      const s = sql[kind];
      lines.push(
        `| ${kind} | sql (${s.perRead.toFixed(1)} queries/read, one caller) | ${s.ms.length} | ${f(pct(s.ms, 50))} | ${f(pct(s.ms, 90))} | ${f(pct(s.ms, 99))} | ${f(s.ms.at(-1) ?? Number.NaN)} |`,
      );
    }
    const table = lines.join("\n");
    console.log(`\n${table}\n`);
    say("explaining the queries");
    // EXPLAIN ANALYZE of each distinct query shape, for the learner with the longest run.
    const heavy = learners.find((l) => l.runs.length === 5)!;
    const heaviestRun = heavy.runs.at(-1)!;
    const explained: string[] = [];
    for (const kind of KINDS) {
      queries.lines.length = 0;
      await handler(kind, heavy, heaviestRun);
      // A copy: the EXPLAINs below are logged too.
      for (const q of [...queries.lines]) {
        const plan = await orm.em
          .fork()
          .getConnection()
          .execute<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) ${q.sql}`)
          .then(
            (rows) => rows.map((r) => r["QUERY PLAN"]).join("\n"),
            (err: Error) => `(not explained: ${err.message})`,
          );
        explained.push(`-- ${kind} (${q.ms} ms in the log)\n${q.sql}\n${plan}`);
      }
    }

    console.log(explained.join("\n\n"));
    if (values.readme)
      await writeReadmeSection(
        `run-reads-${values.label.replace(/\W+/g, "-")}`,
        "Run reads (bench:reads)",
        table,
      );
  } finally {
    await orm?.close();
    await quietOrm?.close();
    await broker.stop().catch(() => {});
    await cluster.stop();
    await db.drop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
}

// The cluster's children and the pools close in `main`'s finally; exit even if a socket lingers.
await main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
