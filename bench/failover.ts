/**
 * bench:failover — how long a run is without a host after its host dies, and how much work is redone.
 *
 * A cluster on this machine: this process hosts the API (never killed), two `runs` processes and two
 * `workers` processes are children, on the NATS server (BENCH_NATS_URL) and a fresh PostgreSQL
 * database (BENCH_DATABASE_URL). Each trial launches a 2-runner CartPole run, lets it train, then
 * `kill -9`s the process that hosts it and measures, from the kill:
 *   - the time to the first new metric point written by the other runs process (the goal: less than
 *     2 × RUN_LEASE_TTL_MS + one iteration: the lease runs out, the next scan claims, the actor
 *     restores the checkpoint and runs one iteration);
 *   - the iterations (and env steps) redone: those recorded after the last checkpoint, which the new
 *     host replays (their metric points are overwritten, never duplicated).
 * The killed process is started again before the next trial, so that two runs processes exist each time.
 *
 *   npm run bench:failover -- --trials 5 --lease-ms 2000 --checkpoint-every 10 [--no-readme]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ServiceBroker } from "moleculer";
import { loadConfig } from "../config.ts";
import type { NodeMetadata } from "../moleculer.config.ts";
import { startPlatform } from "../platform.ts";
import { createBenchDatabase, NATS_URL } from "./scale-cluster.ts";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "5" },
    "lease-ms": { type: "string", default: "2000" },
    "checkpoint-every": { type: "string", default: "10" },
    "heartbeat-timeout-s": { type: "string", default: "4" },
    "no-readme": { type: "boolean", default: false },
  },
});
const TRIALS = Number(values.trials);
const LEASE_MS = Number(values["lease-ms"]);
const CHECKPOINT_EVERY = Number(values["checkpoint-every"]);
const STEPS_PER_ITERATION = 4 * 32;
const ROOT = path.resolve(import.meta.dirname, "..");
const ADMIN = { email: "bench@proxima.test", password: "bench admin passphrase" };

const namespace = `bench-failover-${randomBytes(4).toString("hex")}`;
const database = await createBenchDatabase();
const env: Record<string, string> = {
  NATS_URL,
  MOLECULER_NAMESPACE: namespace,
  DATABASE_URL: database.url,
  NODE_ENV: "production",
  LOG_LEVEL: "warn",
  RUN_LEASE_TTL_MS: String(LEASE_MS),
  RUN_SCHEDULE_INTERVAL_MS: "100",
  RUN_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
  HEARTBEAT_INTERVAL_S: "1",
  HEARTBEAT_TIMEOUT_S: values["heartbeat-timeout-s"],
  REQUEST_TIMEOUT_MS: "10000",
};
const dataDir = await mkdtemp(path.join(tmpdir(), "proxima-bench-failover-"));
const platform = await startPlatform(
  loadConfig({
    ...env,
    SERVICES: "api,users",
    PORT: "0",
    PROXIMA_DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString("hex"),
    PROXIMA_ADMIN_EMAIL: ADMIN.email,
    PROXIMA_ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: "silent",
  }),
);
const children = new Map<string, ChildProcess>();

function spawnNode(name: string, services: string, extra: Record<string, string> = {}): ChildProcess {
  const nodeID = `${namespace}-${name}`;
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...extra, SERVICES: services, NODE_ID: nodeID },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.set(nodeID, child);
  return child;
}

const broker: ServiceBroker = platform.broker;
const nodes = (service: string) =>
  broker.registry
    .getNodeList({ onlyAvailable: true, withServices: false })
    .filter((n) => (n.metadata as Partial<NodeMetadata>).services?.includes(service))
    .map((n) => n.id as string);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
const sql = <T>(q: string, p: unknown[] = []) => platform.db.orm.em.getConnection().execute<T[]>(q, p);
const api = async <T>(method: string, url: string, token?: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${platform.apiUrl}${url}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
};

interface Trial {
  detectMs: number;
  iterationMs: number;
  lastBefore: number;
  firstNew: number;
  redone: number;
}
const trials: Trial[] = [];
try {
  for (const name of ["r1", "r2"]) spawnNode(name, "runs");
  for (const name of ["w1", "w2"]) spawnNode(name, "workers", { WORKER_SLOTS: "1" });
  await until(
    async () => nodes("runs").length === 2 && nodes("workers").length === 2,
    Boolean,
    "the cluster",
  );
  const { accessToken } = await api<{ accessToken: string }>("POST", "/api/v1/auth/login", undefined, ADMIN);
  for (let trial = 0; trial < TRIALS; trial++) {
    const run = await api<{ id: string }>("POST", "/api/v1/runs", accessToken, {
      env: "CartPole-v1",
      seed: trial,
      totalSteps: STEPS_PER_ITERATION * 100_000,
      hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
      resources: { runners: 2 },
    });
    // Kill at a varying distance from the last checkpoint, as a crash would land.
    const killAt = 2 * CHECKPOINT_EVERY + 1 + ((trial * 3) % CHECKPOINT_EVERY);
    await until(
      () => sql<{ iteration: number }>(`select "iteration" from "runs" where "id" = ?`, [run.id]),
      (r) => (r[0]?.iteration ?? 0) >= killAt,
      "iterations before the kill",
    );
    const [{ owner_node: host }] = (await sql<{ owner_node: string }>(
      `select "owner_node" from "runs" where "id" = ?`,
      [run.id],
    )) as [{ owner_node: string }];
    const victim = children.get(host)!;
    victim.kill("SIGKILL");
    const killedAt = Date.now();
    await new Promise((r) => victim.once("exit", r));
    const [before] = await sql<{ last: number; iteration_ms: number }>(
      `select max("iteration") as "last",
         extract(epoch from (max("wall_time") - min("wall_time"))) * 1000 / greatest(count(*) - 1, 1) as "iteration_ms"
       from "metric_points" where "run_id" = ?`,
      [run.id],
    );
    const first = await until(
      () =>
        sql<{ iteration: number; at: string | Date }>(
          `select "iteration", "wall_time" as "at" from "metric_points"
           where "run_id" = ? and "wall_time" > to_timestamp(? / 1000.0) order by "wall_time" limit 1`,
          [run.id, killedAt],
        ),
      (r) => r.length > 0,
      "the first point from the new host",
    );
    const detectMs = new Date(first[0]!.at).getTime() - killedAt;
    const lastBefore = before!.last;
    const firstNew = first[0]!.iteration;
    trials.push({
      detectMs,
      iterationMs: Number(before!.iteration_ms),
      lastBefore,
      firstNew,
      redone: lastBefore - firstNew + 1,
    });
    console.log(
      `trial ${trial + 1}: killed ${host} after iteration ${lastBefore}; first new point (iteration ${firstNew}) ${detectMs} ms later; ${lastBefore - firstNew + 1} iterations redone`,
    );
    await api("DELETE", `/api/v1/runs/${run.id}`, accessToken);
    spawnNode(host.slice(namespace.length + 1), "runs");
    await until(async () => nodes("runs").length === 2, Boolean, "the restarted runs process");
  }
} finally {
  for (const child of children.values()) if (child.exitCode === null) child.kill("SIGKILL");
  await platform.stop();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const iterationMs = median(trials.map((t) => t.iterationMs));
const goalMs = 2 * LEASE_MS + iterationMs;
const rows = trials.map(
  (t, i) =>
    `| ${i + 1} | ${t.lastBefore} | ${t.firstNew} | ${t.detectMs.toLocaleString("en-US")} | ${t.redone} (${(t.redone * STEPS_PER_ITERATION).toLocaleString("en-US")} steps) | ${t.detectMs < goalMs ? "met" : "missed"} |`,
);
const table = [
  `Lease ${LEASE_MS} ms, heartbeat timeout ${values["heartbeat-timeout-s"]} s, checkpoint every ${CHECKPOINT_EVERY} iterations, median iteration ${iterationMs.toFixed(0)} ms: goal < 2 × lease + one iteration = ${goalMs.toFixed(0)} ms.`,
  "",
  "| trial | last iteration before kill -9 | first iteration of the new host | kill → first new point (ms) | redone | goal |",
  "|---|---|---|---|---|---|",
  ...rows,
  "",
  `Median kill → first new point: ${median(trials.map((t) => t.detectMs)).toLocaleString("en-US")} ms; max ${Math.max(...trials.map((t) => t.detectMs)).toLocaleString("en-US")} ms. Redone per failover: ${trials.map((t) => t.redone).join(", ")} iterations (at most checkpoint-every: a kill between an iteration's point and its checkpoint redoes a full interval).`,
].join("\n");
console.log(`\n${table}`);

if (!values["no-readme"]) {
  const readme = path.join(import.meta.dirname, "README.md");
  const text = await readFile(readme, "utf8");
  const start = "<!-- failover-results:start -->";
  const end = "<!-- failover-results:end -->";
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) {
    await writeFile(readme, `${text.slice(0, i + start.length)}\n${table}\n${text.slice(j)}`);
    console.log("bench/README.md updated");
  }
}
