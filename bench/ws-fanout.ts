/**
 * `npm run bench:ws`: WebSocket fan-out. 1,000 sockets subscribe to one run on one API process;
 * metric points are broadcast over NATS as a runs node does (`metrics.run.updated`), and each socket
 * times its copy. Reports p50/p99/max delivery latency (broadcast → frame received) and the API
 * process's memory. Goal (issue 4): p99 < 50 ms.
 *
 * The API runs in its own process (SERVICES=api,users,tickets,runs, on a scratch database and a
 * private nats-server); the clients and the broadcasting broker share this process, so the figures
 * include the clients' own parsing, on a machine whose 2 cores the three processes share.
 * Usage: npm run bench:ws [-- --clients 1000 --points 200 --interval 50]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ServiceBroker } from "moleculer";
import pg from "pg";
import WebSocket from "ws";
import { loadConfig } from "../config.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { RUN_METRICS_EVENT, type RunMetricsEvent } from "../services/runs/schemas.ts";
import { freePort } from "./common.ts";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    points: { type: "string", default: "200" },
    interval: { type: "string", default: "50" },
  },
});
const clients = Number(values.clients);
const points = Number(values.points);
const intervalMs = Number(values.interval);
const adminUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const secret = "bench-secret-0123456789-0123456789-abcdef";
const namespace = `bench-ws-${process.pid}`;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  return exited;
}

async function memoryMiB(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers["authorization"] = `Bearer ${token}`;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The API process's own share: time to hand one broadcast to every socket (its /metrics histogram). */
async function serverFanOut(url: string): Promise<{ meanMs: number; p99BucketMs: string; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  const count = value(/^proxima_ws_fanout_seconds_count (\S+)$/m);
  const sum = value(/^proxima_ws_fanout_seconds_sum (\S+)$/m);
  const buckets = [...text.matchAll(/^proxima_ws_fanout_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map(
    (m) => ({
      le: m[1]!,
      n: Number(m[2]),
    }),
  );
  const p99 = buckets.find((b) => b.n >= 0.99 * count)?.le ?? "?";
  return {
    meanMs: (sum / count) * 1000,
    p99BucketMs: p99 === "+Inf" ? p99 : String(Number(p99) * 1000),
    count,
  };
}

/** CleanRL's keys, as a TrainingRun broadcasts them. */
function pointEvent(runId: string, ownerId: string, iteration: number): RunMetricsEvent {
  return {
    runId,
    ownerId,
    iteration,
    globalStep: iteration * 2048,
    metrics: {
      "charts/episodic_return": 100 + iteration,
      "charts/SPS": 12_345,
      "losses/policy_loss": -0.0123,
      "losses/value_loss": 4.56,
      "losses/entropy": 0.654,
      "losses/approx_kl": 0.0078,
      "losses/clipfrac": 0.11,
      "losses/explained_variance": 0.87,
    },
  };
}

const cleanup: (() => Promise<unknown>)[] = [];
try {
  const natsPort = await freePort();
  const nats = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(natsPort)], { stdio: "ignore" });
  cleanup.push(() => stopChild(nats));
  const natsUrl = `nats://127.0.0.1:${natsPort}`;

  const dbName = `proxima_bench_ws_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  cleanup.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${dbName}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "proxima-bench-ws-"));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));

  const port = await freePort();
  const env = {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATABASE_URL: databaseUrl.toString(),
    PROXIMA_DATA_DIR: dataDir,
    NATS_URL: natsUrl,
    MOLECULER_NAMESPACE: namespace,
    JWT_SECRET: secret,
    API_RATE_LIMIT_PER_MIN: "100000000",
  };
  const server = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    env: { ...process.env, ...env, SERVICES: "api,users,tickets,runs", PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  cleanup.push(() => stopChild(server));
  const url = `http://127.0.0.1:${port}`;
  await until(async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined), "API ready");

  const account = { email: "ws-bench@example.com", password: "bench passphrase 2718", name: "Bench" };
  const me = await post(`${url}/api/v1/auth/register`, account);
  const { accessToken } = (await post(`${url}/api/v1/auth/login`, {
    email: account.email,
    password: account.password,
  })) as { accessToken: string };
  // No workers service: the run stays queued, which is all a subscription needs.
  const run = await post(
    `${url}/api/v1/runs`,
    { env: "CartPole-v1", totalSteps: 1_000_000, hyperparameters: { numEnvs: 4, numSteps: 32 } },
    accessToken,
  );
  const runId = run["id"] as string;
  const ownerId = me["id"] as string;
  const memIdle = await memoryMiB(server.pid!);

  // The broadcasting side: a broker on the same NATS, as a runs node would be.
  const config = loadConfig({ ...env, LOG_LEVEL: "warn", NODE_ID: `bench-ws-${process.pid}` });
  const broker = new ServiceBroker(createBrokerOptions(config, [], createRootLogger(config)));
  await broker.start();
  cleanup.push(() => broker.stop());

  const sentAt = new Map<number, number>();
  const latencies = new Float64Array(clients * points);
  let received = 0;
  const t0 = performance.now();
  const sockets: WebSocket[] = [];
  const batch = 50;
  for (let i = 0; i < clients; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, clients - i) }, async () => {
        const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/v1/ws`, {
          headers: { authorization: `Bearer ${accessToken}` },
        });
        sockets.push(ws);
        const subscribed = new Promise<void>((resolve, reject) => {
          ws.on("message", (data) => {
            const m = JSON.parse(String(data)) as { type: string; iteration?: number; message?: string };
            if (m.type === "subscribed") resolve();
            else if (m.type === "metrics")
              latencies[received++] = performance.now() - sentAt.get(m.iteration!)!;
            else if (m.type === "error") reject(new Error(m.message));
          });
          ws.once("error", reject);
        });
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
        ws.send(JSON.stringify({ type: "subscribe", runId }));
        await subscribed;
      }),
    );
  }
  const connectMs = performance.now() - t0;
  const memConnected = await memoryMiB(server.pid!);

  // Wait until the API node has seen the broadcaster (events only go to nodes it knows).
  await until(
    async () =>
      broker.registry.nodes.toArray().some((n) => n.id !== broker.nodeID && n.available) ? true : undefined,
    "the API node on NATS",
  );
  await new Promise((r) => setTimeout(r, 500));

  for (let iteration = 1; iteration <= points; iteration++) {
    sentAt.set(iteration, performance.now());
    await broker.broadcast(RUN_METRICS_EVENT, pointEvent(runId, ownerId, iteration));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await until(
    async () => (received >= clients * points ? true : undefined),
    "every point delivered",
    30_000,
  ).catch(() => undefined);
  const memAfter = await memoryMiB(server.pid!);
  const fanOut = await serverFanOut(url);
  const sorted = latencies.slice(0, received).sort();
  const fmt = (x: number) => x.toFixed(1);
  console.log(
    `WebSocket fan-out: ${clients} subscribers × ${points} points every ${intervalMs} ms, over NATS`,
  );
  console.log(`  delivered            ${received} / ${clients * points}`);
  console.log(
    `  latency ms           p50 ${fmt(percentile(sorted, 50))}  p90 ${fmt(percentile(sorted, 90))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted[sorted.length - 1] ?? Number.NaN)}`,
  );
  console.log(
    `  API fan-out ms       mean ${fmt(fanOut.meanMs)}  p99 ≤ ${fanOut.p99BucketMs} (histogram bucket), ${fanOut.count} broadcasts`,
  );
  console.log(`  connect+subscribe    ${fmt(connectMs)} ms for ${clients} sockets`);
  console.log(
    `  API RSS MiB          idle ${fmt(memIdle.rss)}  with sockets ${fmt(memConnected.rss)}  after ${fmt(memAfter.rss)}  peak ${fmt(memAfter.hwm)}`,
  );
  console.log(`  per socket           ~${fmt(((memConnected.rss - memIdle.rss) * 1024) / clients)} KiB`);
  for (const ws of sockets) ws.terminate();
} finally {
  for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
}
