/**
 * `npm run cluster`: the chart's topology on one machine. It uses (or starts) NATS and PostgreSQL,
 * then starts an api, a controller and worker processes with the roles and environment variables
 * the Helm chart gives its pods (SERVICES, NODE_ID, NATS_URL, DATABASE_URL, JWT_SECRET, HEALTH_PORT,
 * WORKER_SLOTS, …), prefixes every log line with its process, and on Ctrl-C stops them all the way
 * Kubernetes does: SIGTERM, then SIGKILL after a grace period.
 *
 *   npm run cluster                               api on :3000, a controller, two workers
 *   npm run cluster -- --workers 3 --slots 4      more runners
 *   NATS_URL=… DATABASE_URL=… npm run cluster     use these instead of finding or starting them
 *
 * NATS: NATS_URL, else nats://127.0.0.1:4222 when something listens there, else a `nats-server -js`
 * started here (when the binary is on PATH). PostgreSQL: DATABASE_URL, else the local server on
 * 127.0.0.1:5432 (user postgres) with a `proxima_cluster` database, else an embedded PostgreSQL under
 * .data/cluster. State lives under .data/cluster (one data dir per process, like the pods' emptyDirs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import pg from "pg";
import { checkCluster, formatResult } from "../lib/cluster-check.ts";
import { createRootLogger } from "../lib/logger.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

const { values: args } = parseArgs({
  options: {
    workers: { type: "string", default: "2" },
    slots: { type: "string", default: "2" },
    port: { type: "string", default: process.env["PORT"] ?? "3000" },
    "health-port": { type: "string", default: "9090" },
    grace: { type: "string", default: "30" },
    "data-dir": { type: "string", default: path.join(ROOT, ".data", "cluster") },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (args.help) {
  process.stdout.write(
    "usage: npm run cluster -- [--workers N] [--slots N] [--port P] [--health-port P] [--grace S] [--json]\n" +
      "  --workers      worker processes (default 2)\n" +
      "  --slots        WORKER_SLOTS of each worker (default 2)\n" +
      "  --port         the API's port (default PORT or 3000)\n" +
      "  --health-port  first HEALTH_PORT of controller, workers and API, counting up (default 9090; 0: any free port)\n" +
      "  --grace        seconds between SIGTERM and SIGKILL at Ctrl-C (default 30)\n" +
      "  --data-dir     where state lives (default .data/cluster)\n" +
      "  --json         print the processes' JSON log lines as they are\n",
  );
  process.exit(0);
}

function whole(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`cluster: --${name} must be a whole number ≥ ${min} (got "${value}")\n`);
    process.exit(2);
  }
  return n;
}

const WORKERS = whole("workers", args.workers, 1);
const SLOTS = whole("slots", args.slots, 1);
const API_PORT = whole("port", args.port, 0);
const HEALTH_BASE = whole("health-port", args["health-port"], 0);
const GRACE_MS = whole("grace", args.grace, 0) * 1000;
const DATA_DIR = path.resolve(args["data-dir"]!);
const NAMESPACE = process.env["MOLECULER_NAMESPACE"] || "proxima";
const COLORS = process.stdout.isTTY ? [36, 35, 33, 32, 34, 91, 92, 93] : [];

// ---- output ----------------------------------------------------------------------------------------
const width = Math.max("controller".length, `worker-${WORKERS}`.length, "nats".length);

function prefix(name: string, index: number): string {
  const label = name.padEnd(width);
  const color = COLORS[index % Math.max(COLORS.length, 1)];
  return color === undefined ? `[${label}]` : `\x1b[${color}m[${label}]\x1b[0m`;
}

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const HIDDEN = new Set(["level", "time", "pid", "hostname", "msg", "nodeID", "mod", "svc", "ns"]);

/** A pino JSON line as "12:00:01 INFO message {extra}", anything else as it is. */
function humanize(line: string): string {
  if (args.json || !line.startsWith("{")) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const time = new Date(Number(entry["time"]) || Date.now()).toISOString().slice(11, 19);
    const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !HIDDEN.has(k)));
    const where = entry["svc"]
      ? `${String(entry["svc"])}: `
      : entry["mod"]
        ? `${String(entry["mod"])}: `
        : "";
    const tail = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : "";
    return `${time} ${(LEVELS[Number(entry["level"])] ?? "?").padEnd(5)} ${where}${String(entry["msg"] ?? "")}${tail}`;
  } catch {
    return line;
  }
}

function say(message: string): void {
  process.stdout.write(`${prefix("cluster", 7)} ${message}\n`);
}

// ---- processes -------------------------------------------------------------------------------------
interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const procs: Proc[] = [];
let stopping = false;

function launch(name: string, command: string, argv: string[], env: Record<string, string>): Proc {
  // Own process group: a Ctrl-C in the terminal reaches this script only, which stops the children in order.
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const tag = prefix(name, procs.length);
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${tag} ${humanize(line)}\n`),
    );
  }
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      say(`${name} exited (${signal ?? `code ${code}`})`);
      resolve();
      if (!stopping && procs.every((p) => p.child.exitCode !== null || p.child.signalCode !== null)) {
        say("every process has exited");
        void shutdown(1);
      }
    });
    child.once("error", (err) => {
      say(`${name} could not start: ${err.message}`);
      resolve();
    });
  });
  const proc = { name, child, exited };
  procs.push(proc);
  say(`${name} pid=${child.pid ?? "?"}`);
  return proc;
}

function alive(p: Proc): boolean {
  return p.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null;
}

let shuttingDown: Promise<void> | undefined;
let stopEmbedded: (() => Promise<void>) | undefined;

/** SIGTERM to every process (Proxima processes first, NATS last), SIGKILL to those still up after the grace. */
function shutdown(code: number): Promise<void> {
  shuttingDown ??= (async () => {
    stopping = true;
    const proxima = procs.filter((p) => p.name !== "nats");
    const nats = procs.filter((p) => p.name === "nats");
    for (const group of [proxima, nats]) {
      const running = group.filter(alive);
      if (running.length === 0) continue;
      say(`stopping ${running.map((p) => p.name).join(", ")} (SIGTERM; SIGKILL after ${GRACE_MS / 1000} s)`);
      for (const p of running) p.child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running.map((p) => p.exited)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      for (const p of running.filter(alive)) {
        say(`${p.name} did not stop in time: SIGKILL`);
        p.child.kill("SIGKILL");
      }
      await Promise.all(running.map((p) => p.exited));
    }
    await stopEmbedded?.();
    say("stopped");
    process.exit(code);
  })();
  return shuttingDown;
}

// Under `npm run`, one Ctrl-C arrives more than once (from the terminal and relayed by npm and tsx):
// a repeat within a second is the same request; a later one means "now".
let firstSignal = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (firstSignal === 0) {
      firstSignal = Date.now();
      void shutdown(0);
    } else if (Date.now() - firstSignal > 1000) {
      say("second signal: SIGKILL to every process");
      for (const p of procs.filter(alive)) p.child.kill("SIGKILL");
      process.exit(1);
    }
  });
}
// Whatever ends this script, no child outlives it.
process.on("exit", () => {
  for (const p of procs.filter(alive)) p.child.kill("SIGKILL");
});

// ---- NATS and PostgreSQL ---------------------------------------------------------------------------
function listening(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitListening(port: number, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening on ${port}`);
}

async function natsUrl(): Promise<string> {
  const given = process.env["NATS_URL"];
  if (given) {
    say(`NATS: ${given} (NATS_URL)`);
    return given;
  }
  if (await listening(4222)) {
    say("NATS: nats://127.0.0.1:4222 (already running)");
    return "nats://127.0.0.1:4222";
  }
  const port = 4223;
  const store = path.join(DATA_DIR, "nats");
  await mkdir(store, { recursive: true });
  // The chart's NATS: JetStream on, a store on disk, the larger payload limit rollouts need.
  launch(
    "nats",
    "nats-server",
    ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store, "--max_payload", "8MB"],
    {},
  );
  await waitListening(
    port,
    "nats-server (is it installed? https://docs.nats.io/running-a-nats-service/introduction/installation)",
  );
  say(`NATS: nats://127.0.0.1:${port} (started here, JetStream under ${path.relative(ROOT, store)})`);
  return `nats://127.0.0.1:${port}`;
}

async function databaseUrl(): Promise<string> {
  const given = process.env["DATABASE_URL"];
  if (given) {
    say("PostgreSQL: DATABASE_URL");
    return given;
  }
  if (await listening(5432)) {
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
    try {
      await admin.connect();
      const found = await admin.query("select 1 from pg_database where datname = 'proxima_cluster'");
      if (found.rowCount === 0) await admin.query("create database proxima_cluster");
      say("PostgreSQL: 127.0.0.1:5432/proxima_cluster (already running)");
      return "postgres://postgres@127.0.0.1:5432/proxima_cluster";
    } catch (err) {
      say(`PostgreSQL on 5432 refused us (${(err as Error).message}): starting an embedded one`);
    } finally {
      await admin.end().catch(() => {});
    }
  }
  const { startEmbeddedPostgres } = await import("../db/embedded.ts");
  const server = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: 54330 });
  stopEmbedded = () => server.stop();
  say(`PostgreSQL: embedded, under ${path.relative(ROOT, server.clusterDir)} (port 54330)`);
  return server.url;
}

// ---- the cluster -----------------------------------------------------------------------------------
async function main(): Promise<void> {
  await mkdir(DATA_DIR, { recursive: true });
  const nats = await natsUrl();
  const database = await databaseUrl();
  // One JWT secret for the api and the controllers, kept so that tokens survive a restart of the cluster.
  const { resolveJwtSecret } = await import("../services/users/jwt-secret.ts");
  const logger = createRootLogger({ LOG_LEVEL: "silent", NODE_ENV: "development" });
  const jwtSecret = await resolveJwtSecret({ NODE_ENV: "development", PROXIMA_DATA_DIR: DATA_DIR }, logger);

  const common = (name: string, services: string[]): Record<string, string> => ({
    NODE_ENV: process.env["NODE_ENV"] ?? "development",
    NODE_ID: `${name}-${randomBytes(3).toString("hex")}`,
    SERVICES: services.join(","),
    HOST: "127.0.0.1",
    MOLECULER_NAMESPACE: NAMESPACE,
    LOG_LEVEL: process.env["LOG_LEVEL"] ?? "info",
    PROXIMA_DATA_DIR: path.join(DATA_DIR, name),
    NATS_URL: nats,
    DATABASE_URL: database,
  });
  const node = (name: string, env: Record<string, string>) =>
    launch(name, process.execPath, ["--import", "tsx", "main.ts"], env);

  // The migrations run once here, as the chart's Job does, before the roles start.
  say("migrating the database");
  const { openDatabase } = await import("../db/index.ts");
  const db = await openDatabase({
    DATABASE_URL: database,
    PROXIMA_DATA_DIR: DATA_DIR,
    EMBEDDED_PG_PORT: 54330,
    LOG_LEVEL: "warn",
  });
  await db.close();

  const healthPort = (i: number) => String(HEALTH_BASE === 0 ? 0 : HEALTH_BASE + i);
  node("api", {
    ...common("api", ["api"]),
    PORT: String(API_PORT),
    // Its /metrics in production is only there (as in the chart); after the workers' ports.
    HEALTH_PORT: healthPort(WORKERS + 1),
    JWT_SECRET: jwtSecret,
    TRUST_PROXY: "false",
  });
  // The chart's controller services, as far as this checkout has them.
  const { KNOWN_SERVICES } = await import("../platform.ts");
  const controllerServices = ["runs", "sweeps", "submissions", "users", "tickets"].filter((s) =>
    KNOWN_SERVICES.includes(s),
  );
  node("controller", {
    ...common("controller", controllerServices),
    HEALTH_PORT: healthPort(0),
    JWT_SECRET: jwtSecret,
  });
  for (let i = 1; i <= WORKERS; i++) {
    node(`worker-${i}`, {
      ...common(`worker-${i}`, ["workers"]),
      HEALTH_PORT: healthPort(i),
      WORKER_SLOTS: String(SLOTS),
      WORKER_GPU: "false",
      PROXIMA_BACKEND: "wasm",
    });
  }

  const apiUrl = `http://127.0.0.1:${API_PORT}`;
  const result = await checkCluster({
    natsUrl: nats,
    namespace: NAMESPACE,
    apiUrl: API_PORT === 0 ? undefined : apiUrl,
    expect: { api: 1, controller: 1, worker: WORKERS },
    timeoutMs: 180_000,
  });
  if (stopping) return;
  for (const line of formatResult(result).trimEnd().split("\n")) say(line);
  if (result.ok) say(`ready: ${apiUrl} (Ctrl-C stops everything)`);
  else say("the cluster did not come up whole; the processes keep running (Ctrl-C stops them)");
}

main().catch((err: unknown) => {
  say(`failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
