/**
 * The chart's topology as local processes, for `npm run cluster` (scripts/cluster.ts) and for the
 * benchmarks that need the real thing (bench/soak.ts): it uses (or starts) NATS and PostgreSQL, then
 * starts an api, a controller and worker processes with the roles and environment variables the Helm
 * chart gives its pods (SERVICES, NODE_ID, NATS_URL, DATABASE_URL, JWT_SECRET, HEALTH_PORT,
 * WORKER_SLOTS, …), prefixes every log line with its process, and stops them the way Kubernetes
 * does: SIGTERM, then SIGKILL after a grace period.
 *
 * NATS: `natsUrl`, else NATS_URL, else nats://127.0.0.1:4222 when something listens there, else a
 * `nats-server -js` started here (when the binary is on PATH). PostgreSQL: `databaseUrl`, else
 * DATABASE_URL, else the local server on 127.0.0.1:5432 (user postgres) with a `proxima_cluster`
 * database, else an embedded PostgreSQL under the data dir. State lives under the data dir (one data
 * dir per process, like the pods' emptyDirs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { type ClusterCheckResult, checkCluster } from "../lib/cluster-check.ts";
import { createRootLogger } from "../lib/logger.ts";

export const ROOT = path.resolve(import.meta.dirname, "..");

export interface LocalClusterOptions {
  workers: number;
  /** WORKER_SLOTS of each worker. */
  slots: number;
  /** The API's port (0: any free port; then the readiness check skips the API's /readyz). */
  apiPort: number;
  /** HEALTH_PORT of the controller, then the workers, then the API, counting up (0: any free port). */
  healthBase: number;
  /** Between SIGTERM and SIGKILL when stopping. */
  graceMs: number;
  dataDir: string;
  namespace: string;
  /** Print the processes' JSON log lines as they are instead of as "12:00:01 INFO message". */
  json: boolean;
  /** Where every prefixed line goes (default: stdout). */
  write?: (line: string) => void;
  /** Colour the prefixes (default: when stdout is a terminal). */
  color?: boolean;
  natsUrl?: string;
  databaseUrl?: string;
  /** Environment of every Proxima process, over this process's own and under the role's. */
  env?: Record<string, string>;
  /** Environment of the API process only, over everything else (bench:soak trusts X-Forwarded-For). */
  apiEnv?: Record<string, string>;
  /** Called once when every process has exited without being asked to. */
  onAllExited?: () => void;
  /** Node flags for the processes of one role ("api", "controller", "worker"), e.g. bench:soak's --cpu-prof. */
  nodeArgs?: Partial<Record<"api" | "controller" | "worker", string[]>>;
}

/** One process of the cluster. */
export interface ClusterProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** Its HEALTH_PORT (/metrics, /readyz) as asked; 0 when the process picked one itself. */
  healthPort: number;
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
const PALETTE = [36, 35, 33, 32, 34, 91, 92, 93];

/** A pino JSON line as "12:00:01 INFO message {extra}", anything else as it is. */
function humanize(line: string): string {
  if (!line.startsWith("{")) return line;
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

export function listening(port: number, host = "127.0.0.1"): Promise<boolean> {
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

export class LocalCluster {
  readonly procs: ClusterProcess[] = [];
  apiUrl = "";
  nats = "";
  database = "";
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private stopEmbedded: (() => Promise<void>) | undefined;
  private readonly width: number;
  private readonly colors: number[];
  private readonly write: (line: string) => void;

  constructor(readonly opts: LocalClusterOptions) {
    this.width = Math.max("controller".length, `worker-${opts.workers}`.length, "nats".length);
    this.colors = (opts.color ?? process.stdout.isTTY) ? PALETTE : [];
    this.write = opts.write ?? ((line) => process.stdout.write(line));
  }

  private prefix(name: string, index: number): string {
    const label = name.padEnd(this.width);
    const color = this.colors[index % Math.max(this.colors.length, 1)];
    return color === undefined ? `[${label}]` : `\x1b[${color}m[${label}]\x1b[0m`;
  }

  say(message: string): void {
    this.write(`${this.prefix("cluster", 7)} ${message}\n`);
  }

  /** The processes still running. */
  alive(): ClusterProcess[] {
    return this.procs.filter(
      (p) => p.child.pid !== undefined && p.child.exitCode === null && p.child.signalCode === null,
    );
  }

  private launch(
    name: string,
    command: string,
    argv: string[],
    env: Record<string, string>,
    healthPort = 0,
  ): ClusterProcess {
    // Own process group: a Ctrl-C in the terminal reaches the script only, which stops the children in order.
    const child = spawn(command, argv, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const tag = this.prefix(name, this.procs.length);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) =>
        this.write(`${tag} ${this.opts.json ? line : humanize(line)}\n`),
      );
    }
    const exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        this.say(`${name} exited (${signal ?? `code ${code}`})`);
        resolve();
        if (!this.stopping && this.alive().length === 0) {
          this.say("every process has exited");
          this.opts.onAllExited?.();
        }
      });
      child.once("error", (err) => {
        this.say(`${name} could not start: ${err.message}`);
        resolve();
      });
    });
    const proc = { name, child, exited, healthPort };
    this.procs.push(proc);
    this.say(`${name} pid=${child.pid ?? "?"}`);
    return proc;
  }

  /** SIGTERM to every process (Proxima processes first, NATS last), SIGKILL to those still up after the grace. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      const proxima = this.procs.filter((p) => p.name !== "nats");
      const nats = this.procs.filter((p) => p.name === "nats");
      for (const group of [proxima, nats]) {
        const running = group.filter((p) => this.alive().includes(p));
        if (running.length === 0) continue;
        this.say(
          `stopping ${running.map((p) => p.name).join(", ")} (SIGTERM; SIGKILL after ${this.opts.graceMs / 1000} s)`,
        );
        for (const p of running) p.child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(running.map((p) => p.exited)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.opts.graceMs);
          }),
        ]);
        clearTimeout(timer);
        for (const p of running.filter((q) => this.alive().includes(q))) {
          this.say(`${p.name} did not stop in time: SIGKILL`);
          p.child.kill("SIGKILL");
        }
        await Promise.all(running.map((p) => p.exited));
      }
      await this.stopEmbedded?.();
      this.say("stopped");
    })();
    return this.stopped;
  }

  /** SIGKILL to every process still running (a second Ctrl-C, or this process exiting). */
  kill(): void {
    for (const p of this.alive()) p.child.kill("SIGKILL");
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private async natsUrl(): Promise<string> {
    const given = this.opts.natsUrl ?? process.env["NATS_URL"];
    if (given) {
      this.say(`NATS: ${given}${this.opts.natsUrl ? "" : " (NATS_URL)"}`);
      return given;
    }
    if (await listening(4222)) {
      this.say("NATS: nats://127.0.0.1:4222 (already running)");
      return "nats://127.0.0.1:4222";
    }
    const port = 4223;
    const store = path.join(this.opts.dataDir, "nats");
    await mkdir(store, { recursive: true });
    // The chart's NATS: JetStream on, a store on disk, the larger payload limit rollouts need.
    this.launch(
      "nats",
      "nats-server",
      ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store, "--max_payload", "8MB"],
      {},
    );
    await waitListening(
      port,
      "nats-server (is it installed? https://docs.nats.io/running-a-nats-service/introduction/installation)",
    );
    this.say(`NATS: nats://127.0.0.1:${port} (started here, JetStream under ${path.relative(ROOT, store)})`);
    return `nats://127.0.0.1:${port}`;
  }

  private async databaseUrl(): Promise<string> {
    if (this.opts.databaseUrl) return this.opts.databaseUrl;
    const given = process.env["DATABASE_URL"];
    if (given) {
      this.say("PostgreSQL: DATABASE_URL");
      return given;
    }
    if (await listening(5432)) {
      const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
      try {
        await admin.connect();
        const found = await admin.query("select 1 from pg_database where datname = 'proxima_cluster'");
        if (found.rowCount === 0) await admin.query("create database proxima_cluster");
        this.say("PostgreSQL: 127.0.0.1:5432/proxima_cluster (already running)");
        return "postgres://postgres@127.0.0.1:5432/proxima_cluster";
      } catch (err) {
        this.say(`PostgreSQL on 5432 refused us (${(err as Error).message}): starting an embedded one`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    const { startEmbeddedPostgres } = await import("../db/embedded.ts");
    const server = await startEmbeddedPostgres({ dataDir: this.opts.dataDir, port: 54330 });
    this.stopEmbedded = () => server.stop();
    this.say(`PostgreSQL: embedded, under ${path.relative(ROOT, server.clusterDir)} (port 54330)`);
    return server.url;
  }

  /** Starts every process and waits (up to 3 minutes) until the cluster is whole. */
  async start(): Promise<ClusterCheckResult | undefined> {
    const { workers, slots, apiPort, healthBase, dataDir, namespace } = this.opts;
    await mkdir(dataDir, { recursive: true });
    this.nats = await this.natsUrl();
    this.database = await this.databaseUrl();
    // One JWT secret for the api and the controllers, kept so that tokens survive a restart of the cluster.
    const { resolveJwtSecret } = await import("../services/users/jwt-secret.ts");
    const logger = createRootLogger({ LOG_LEVEL: "silent", NODE_ENV: "development" });
    const jwtSecret = await resolveJwtSecret({ NODE_ENV: "development", PROXIMA_DATA_DIR: dataDir }, logger);

    const common = (name: string, services: string[]): Record<string, string> => ({
      NODE_ENV: process.env["NODE_ENV"] ?? "development",
      LOG_LEVEL: process.env["LOG_LEVEL"] ?? "info",
      ...this.opts.env,
      NODE_ID: `${name}-${randomBytes(3).toString("hex")}`,
      SERVICES: services.join(","),
      HOST: "127.0.0.1",
      MOLECULER_NAMESPACE: namespace,
      PROXIMA_DATA_DIR: path.join(dataDir, name),
      NATS_URL: this.nats,
      DATABASE_URL: this.database,
    });
    const healthPort = (i: number) => (healthBase === 0 ? 0 : healthBase + i);
    const role = (name: string) => (name.startsWith("worker") ? "worker" : (name as "api" | "controller"));
    const node = (name: string, port: number, env: Record<string, string>) =>
      this.launch(
        name,
        process.execPath,
        [...(this.opts.nodeArgs?.[role(name)] ?? []), "--import", "tsx", "main.ts"],
        { ...env, HEALTH_PORT: String(port) },
        port,
      );

    // The migrations run once here, as the chart's Job does, before the roles start.
    this.say("migrating the database");
    const { openDatabase } = await import("../db/index.ts");
    const db = await openDatabase({
      DATABASE_URL: this.database,
      PROXIMA_DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: 54330,
      LOG_LEVEL: "warn",
    });
    await db.close();

    // Its /metrics in production is only there (as in the chart); after the workers' ports.
    node("api", healthPort(workers + 1), {
      ...common("api", ["api"]),
      PORT: String(apiPort),
      JWT_SECRET: jwtSecret,
      TRUST_PROXY: "false",
      ...this.opts.apiEnv,
    });
    // The chart's controller services, as far as this checkout has them.
    const { KNOWN_SERVICES } = await import("../platform.ts");
    const controllerServices = ["runs", "sweeps", "submissions", "users", "tickets"].filter((s) =>
      KNOWN_SERVICES.includes(s),
    );
    node("controller", healthPort(0), { ...common("controller", controllerServices), JWT_SECRET: jwtSecret });
    for (let i = 1; i <= workers; i++) {
      node(`worker-${i}`, healthPort(i), {
        ...common(`worker-${i}`, ["workers"]),
        WORKER_SLOTS: String(slots),
        WORKER_GPU: "false",
        PROXIMA_BACKEND: "wasm",
      });
    }

    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    const result = await checkCluster({
      natsUrl: this.nats,
      namespace,
      apiUrl: apiPort === 0 ? undefined : this.apiUrl,
      expect: { api: 1, controller: 1, worker: workers },
      timeoutMs: 180_000,
    });
    if (this.stopping) return undefined;
    return result;
  }
}
