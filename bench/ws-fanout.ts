/**
 * `npm run bench:ws`: WebSocket fan-out. 1,000 sockets subscribe to one run on one API process;
 * metric points are broadcast over NATS as a runs node does (`metrics.run.updated`), and each socket
 * times its copy. Reports p50/p99/max delivery latency (broadcast → frame received) and the API
 * process's memory and the CPU each party spends per point. Goal (issue 4): p99 < 50 ms.
 *
 * The API runs in its own process (SERVICES=api,users,tickets,runs, on a scratch database and a
 * private nats-server); the broadcasting broker lives in this process and the clients in
 * `--client-procs` child processes (each frame is stamped on arrival, before it is decoded). With
 * all 1,000 clients on one event loop, its ~26 ms of CPU per point (more than the API's ~14 ms) queued
 * the later sockets' frames and dominated the figure. All processes share the machine's cores.
 * Usage: npm run bench:ws [-- --clients 1000 --points 200 --interval 50 --client-procs 2]
 */

import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ServiceBroker } from "moleculer";
import pg from "pg";
import WebSocket from "ws";
import { loadConfig } from "../config.ts";
import { RUN_METRICS_EVENT, type RunMetricsEvent } from "../contracts/runs.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { freePort } from "./common.ts";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    points: { type: "string", default: "200" },
    interval: { type: "string", default: "50" },
    "client-procs": { type: "string", default: "2" },
  },
});
const clientProcs = Number(values["client-procs"]);
if (!Number.isInteger(clientProcs) || clientProcs < 1)
  throw new Error("--client-procs must be an integer ≥ 1");
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

/** CPU time (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
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

const BENCH_METRICS_TOKEN = "bench-metrics-token-0123456789";

/** The API process's own share: time to hand one broadcast to every socket (its /metrics histogram). */
async function serverFanOut(url: string): Promise<{ meanMs: number; p99BucketMs: string; count: number }> {
  // NODE_ENV=production: the API port serves /metrics only to METRICS_TOKEN (set in the server's env below).
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } })
  ).text();
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

interface ClientGroupSetup {
  wsUrl: string;
  accessToken: string;
  runId: string;
  count: number;
  points: number;
}
/** What a client process saw: for each metrics frame, its iteration and arrival time (shared clock). */
interface Arrivals {
  iterations: number[];
  times: number[];
}
type ClientReply = { type: "ready" } | { type: "failed"; message: string } | ({ type: "report" } & Arrivals);

/** Forks a client process that opens `count` subscribed sockets; resolves once they all are subscribed. */
function startClientGroup(setup: ClientGroupSetup): Promise<{
  child: ChildProcess;
  report: (timeoutMs: number) => Promise<Arrivals>;
}> {
  const child = fork(new URL(import.meta.url).pathname, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, BENCH_WS_CLIENT: "1" },
  });
  const replies: ClientReply[] = [];
  const waiters: ((r: ClientReply) => void)[] = [];
  child.on("message", (m: ClientReply) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else replies.push(m);
  });
  const next = () =>
    new Promise<ClientReply>((resolve) => {
      const queued = replies.shift();
      if (queued) resolve(queued);
      else waiters.push(resolve);
    });
  child.send(setup);
  return next().then((first) => {
    if (first.type !== "ready") throw new Error(`client process: ${JSON.stringify(first)}`);
    return {
      child,
      report: async (timeoutMs: number) => {
        const timer = setTimeout(() => child.send("report"), timeoutMs);
        const reply = await next();
        clearTimeout(timer);
        if (reply.type !== "report") throw new Error(`client process: ${JSON.stringify(reply)}`);
        return reply;
      },
    };
  });
}

/** The client process: subscribes, stamps each frame on arrival before decoding it, reports when done. */
async function clientProcess(): Promise<void> {
  const setup = await new Promise<ClientGroupSetup>((resolve) => process.once("message", resolve));
  const iterations: number[] = [];
  const times: number[] = [];
  const expected = setup.count * setup.points;
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    process.send!({ type: "report", iterations, times } satisfies ClientReply);
  };
  process.on("message", (m) => {
    if (m === "report") report();
  });
  const batch = 50;
  try {
    for (let i = 0; i < setup.count; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, setup.count - i) }, async () => {
          const ws = new WebSocket(setup.wsUrl, {
            headers: { authorization: `Bearer ${setup.accessToken}` },
          });
          const subscribed = new Promise<void>((resolve, reject) => {
            ws.on("message", (data) => {
              const at = performance.timeOrigin + performance.now();
              const m = JSON.parse(String(data)) as { type: string; iteration?: number; message?: string };
              if (m.type === "metrics") {
                iterations.push(m.iteration!);
                times.push(at);
                if (times.length === expected) report();
              } else if (m.type === "subscribed") resolve();
              else if (m.type === "error") reject(new Error(m.message));
            });
            ws.once("error", reject);
          });
          await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
          });
          ws.send(JSON.stringify({ type: "subscribe", runId: setup.runId }));
          await subscribed;
        }),
      );
    }
    process.send!({ type: "ready" } satisfies ClientReply);
  } catch (err) {
    process.send!({ type: "failed", message: String(err) } satisfies ClientReply);
  }
}

const cleanup: (() => Promise<unknown>)[] = [];
if (process.env["BENCH_WS_CLIENT"]) await clientProcess();
else
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
      METRICS_TOKEN: BENCH_METRICS_TOKEN,
      // The bench's 1,000 sockets all belong to one account.
      WS_MAX_CONNECTIONS_PER_USER: "100000000",
      WS_UPGRADES_PER_MIN_PER_USER: "100000000",
    };
    // BENCH_WS_SERVER_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the API process.
    const serverArgs = (process.env["BENCH_WS_SERVER_ARGS"] ?? "").split(" ").filter(Boolean);
    const server = spawn(process.execPath, [...serverArgs, "--import", "tsx", "main.ts"], {
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

    // The clients live in child processes (--client-procs), so that the API's cost is what is measured
    // rather than 1,000 decoders queued on one event loop. Times are on the shared clock (timeOrigin + now).
    const sentAt = new Float64Array(points + 1);
    const t0 = performance.now();
    const groups = await Promise.all(
      Array.from({ length: clientProcs }, (_, k) => {
        const count = Math.floor(clients / clientProcs) + (k < clients % clientProcs ? 1 : 0);
        return startClientGroup({
          wsUrl: `${url.replace(/^http/, "ws")}/api/v1/ws`,
          accessToken,
          runId,
          count,
          points,
        });
      }),
    );
    cleanup.push(async () => {
      for (const g of groups) await stopChild(g.child);
    });
    const connectMs = performance.now() - t0;
    const memConnected = await memoryMiB(server.pid!);

    // Wait until the API node has seen the broadcaster (events only go to nodes it knows).
    await until(
      async () =>
        broker.registry.nodes.toArray().some((n) => n.id !== broker.nodeID && n.available) ? true : undefined,
      "the API node on NATS",
    );
    await new Promise((r) => setTimeout(r, 500));

    // Who spends the two cores while points flow: the API, the clients (this process) and NATS.
    const clientsCpuMs = async () => {
      let sum = 0;
      for (const g of groups) sum += await cpuMs(g.child.pid!);
      return sum;
    };
    const cpuBefore = {
      api: await cpuMs(server.pid!),
      clients: await clientsCpuMs(),
      nats: await cpuMs(nats.pid!),
    };
    for (let iteration = 1; iteration <= points; iteration++) {
      sentAt[iteration] = performance.timeOrigin + performance.now();
      await broker.broadcast(RUN_METRICS_EVENT, pointEvent(runId, ownerId, iteration));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    const arrivals = await Promise.all(groups.map((g) => g.report(30_000)));
    const cpuAfter = {
      api: await cpuMs(server.pid!),
      clients: await clientsCpuMs(),
      nats: await cpuMs(nats.pid!),
    };
    const memAfter = await memoryMiB(server.pid!);
    const fanOut = await serverFanOut(url);
    let received = 0;
    const latencies = new Float64Array(clients * points);
    for (const a of arrivals)
      for (let i = 0; i < a.iterations.length; i++)
        latencies[received++] = a.times[i]! - sentAt[a.iterations[i]!]!;
    const sorted = latencies.slice(0, received).sort();
    const fmt = (x: number) => x.toFixed(1);
    console.log(
      `WebSocket fan-out: ${clients} subscribers (in ${clientProcs} client processes) × ${points} points every ${intervalMs} ms, over NATS`,
    );
    console.log(`  delivered            ${received} / ${clients * points}`);
    console.log(
      `  latency ms           p50 ${fmt(percentile(sorted, 50))}  p90 ${fmt(percentile(sorted, 90))}  p99 ${fmt(percentile(sorted, 99))}  max ${fmt(sorted[sorted.length - 1] ?? Number.NaN)}`,
    );
    console.log(
      `  API fan-out ms       mean ${fmt(fanOut.meanMs)}  p99 ≤ ${fanOut.p99BucketMs} (histogram bucket), ${fanOut.count} broadcasts`,
    );
    const perPoint = (k: keyof typeof cpuAfter) => fmt((cpuAfter[k] - cpuBefore[k]) / points);
    console.log(
      `  CPU ms per point     API ${perPoint("api")}  clients ${perPoint("clients")}  NATS ${perPoint("nats")}`,
    );
    console.log(`  connect+subscribe    ${fmt(connectMs)} ms for ${clients} sockets`);
    console.log(
      `  API RSS MiB          idle ${fmt(memIdle.rss)}  with sockets ${fmt(memConnected.rss)}  after ${fmt(memAfter.rss)}  peak ${fmt(memAfter.hwm)}`,
    );
    console.log(`  per socket           ~${fmt(((memConnected.rss - memIdle.rss) * 1024) / clients)} KiB`);
  } finally {
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => console.error(err));
  }
