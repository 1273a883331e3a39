import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import type { ServiceBroker } from "moleculer";
import type { PublicMetricPoint, PublicRun } from "../../contracts/runs.ts";
import type { NodeMetadata } from "../../moleculer.config.ts";
import { readCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTestPlatform, type TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { metrics } from "../runs/helpers.ts";

/**
 * Heartbeats for tests that kill nodes: a dead node leaves the registry within seconds, and a live
 * one whose process is starved for a while (CI runs several test files beside these clusters on two
 * cores) is not taken for dead. Moleculer beats every interval ± 500 ms, fixed per process, and
 * compares whole seconds of uptime (registry/discoverers/base.js): 0.5 s and 2 s, as these were,
 * let a node beating every ~1 s be dropped after one missed beat and ~1 s of starvation — and each
 * false drop is up to a second of SERVICE_NOT_AVAILABLE (503) until its next beat brings it back.
 * 1 s and 4 s tolerate ~2.5 s of starvation; a killed node is dropped 4 to 9 s after its last beat
 * (the check runs every timeout). config.ts refuses settings with less room than that.
 */
const FAST_HEARTBEATS = { HEARTBEAT_INTERVAL_S: "1", HEARTBEAT_TIMEOUT_S: "4" } as const;

/**
 * A cluster of real processes for fault tests: the API (this test process, never faulted) and child
 * processes running `main.ts` with one role each (SERVICES=runs, SERVICES=workers), as pods would, on
 * real NATS and real PostgreSQL. Leases and heartbeats are short so that failover happens in seconds.
 */
export const ROOT = path.resolve(import.meta.dirname, "../..");
export const SHARED_NATS_URL = process.env["TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";

export const FAST_FAILOVER = {
  RUN_LEASE_TTL_MS: "2000",
  RUN_SCHEDULE_INTERVAL_MS: "100",
  ...FAST_HEARTBEATS,
  REQUEST_TIMEOUT_MS: "10000",
} as const;

export interface Child {
  name: string;
  nodeID: string;
  process: ChildProcess;
  /** Everything it logged (LOG_LEVEL warn: its warnings and errors). */
  logs(): string;
  exited: Promise<number | null>;
  kill9(): Promise<void>;
  /** SIGTERM: a drain; resolves with the exit code. */
  term(): Promise<number | null>;
}

export interface Cluster {
  api: TestPlatform;
  namespace: string;
  natsUrl: string;
  database: TestDatabase;
  env: Record<string, string>;
  spawn(name: string, services: string, extra?: Record<string, string>): Child;
  /** Nodes the API's broker sees with `service`, available. */
  nodesWith(service: string): string[];
  waitForNodes(service: string, count: number): Promise<void>;
}

export interface ClusterOptions {
  natsUrl?: string;
  databaseUrl?: string;
  env?: Record<string, string>;
}

export async function startCluster(t: ExecutionContext, opts: ClusterOptions = {}): Promise<Cluster> {
  const namespace = `faults-${randomBytes(4).toString("hex")}`;
  const natsUrl = opts.natsUrl ?? SHARED_NATS_URL;
  const database: TestDatabase = opts.databaseUrl
    ? { url: opts.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const env: Record<string, string> = {
    ...FAST_FAILOVER,
    NATS_URL: natsUrl,
    MOLECULER_NAMESPACE: namespace,
    DATABASE_URL: database.url,
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    ...opts.env,
  };
  const children: Child[] = [];
  t.teardown(async () => {
    await Promise.all(children.map((c) => c.kill9()));
    // A failure on CI is seen once and must be explained from its log: what each process said.
    if (!t.passed) for (const c of children) process.stderr.write(childLogTail(c));
    if (!opts.databaseUrl) await database.drop();
  });
  const api = await startTestPlatform(
    t,
    { ...env, SERVICES: "api,users", LOG_LEVEL: "silent" },
    { database },
  );
  const broker: ServiceBroker = api.platform.broker;
  const nodesWith = (service: string) =>
    broker.registry
      .getNodeList({ onlyAvailable: true, withServices: false })
      .filter((n) => (n.metadata as Partial<NodeMetadata> | undefined)?.services?.includes(service))
      .map((n) => n.id as string);
  return {
    api,
    namespace,
    natsUrl,
    database,
    env,
    spawn(name, services, extra = {}) {
      const child = spawnNode(`${namespace}-${name}`, { ...env, SERVICES: services, ...extra });
      children.push(child);
      return child;
    },
    nodesWith,
    async waitForNodes(service, count) {
      await waitFor(
        async () => nodesWith(service).length,
        (n) => n >= count,
        `${count} nodes with ${service}`,
        90_000,
      );
    },
  };
}

const LOG_TAIL_CHARS = 16_000;

function childLogTail(child: Child): string {
  const logs = child.logs();
  const tail = logs.length > LOG_TAIL_CHARS ? `…${logs.slice(-LOG_TAIL_CHARS)}` : logs;
  return `\n----- ${child.nodeID} (last ${Math.min(logs.length, LOG_TAIL_CHARS)} of ${logs.length} chars) -----\n${tail}\n`;
}

export function spawnNode(nodeID: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_ID: nodeID },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (d: Buffer) => {
    output += d.toString();
    if (process.env["TEST_CHILD_LOGS"]) process.stderr.write(`[${nodeID}] ${d}`);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
  });
  return {
    name: nodeID,
    nodeID,
    process: child,
    logs: () => output,
    exited,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async term() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** A TCP relay in front of NATS: `cut()` severs every connection through it and refuses new ones. */
export interface Relay {
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<Relay> {
  const to = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  let listening = true;
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
    });
  return {
    url: `nats://127.0.0.1:${port}`,
    async cut() {
      const closed = stopListening();
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      if (listening) return;
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      listening = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await stopListening();
    },
  };
}

/** A private nats-server on its own port, that a test may kill and restart without disturbing others. */
export interface PrivateNats {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export async function startPrivateNats(t: ExecutionContext): Promise<PrivateNats> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(process.env["NATS_SERVER_BIN"] ?? "nats-server", ["-a", "127.0.0.1", "-p", String(port)], {
      stdio: "ignore",
    });
    await waitFor(() => canConnect(port), Boolean, "the private nats-server to listen", 15_000);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
  };
  t.teardown(kill);
  await start();
  return { url: `nats://127.0.0.1:${port}`, kill, start };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** The run as the database has it (owner, lease), read by the test directly. */
export async function leaseOf(
  api: TestPlatform,
  runId: string,
): Promise<{ owner_node: string | null; lease_epoch: number; expired: boolean; lease_until: Date | null }> {
  const rows = await api.platform.db.orm.em
    .getConnection()
    .execute<
      { owner_node: string | null; lease_epoch: number; expired: boolean; lease_until: Date | null }[]
    >(
      `select "owner_node", "lease_epoch", "lease_until", coalesce("lease_until" < now(), true) as "expired"
       from "runs" where "id" = ?`,
      [runId],
    );
  if (!rows[0]) throw new Error(`run ${runId} not found`);
  return rows[0];
}

/**
 * What every fault test ends with: the run completed, one metric point per iteration 1..N (no gap,
 * no duplicate, also counted in the table itself), and its final checkpoint, downloaded, is loadable
 * by rl's `readCheckpoint` (what `proxima eval` uses) at iteration N.
 */
export async function assertSoundCompletion(
  t: ExecutionContext,
  api: TestPlatform,
  token: string,
  run: PublicRun,
  iterations: number,
): Promise<PublicMetricPoint[]> {
  t.is(run.status, "completed", run.failureReason ?? "");
  const points = await metrics(api, token, run.id);
  t.deepEqual(
    points.map((p) => p.iteration),
    Array.from({ length: iterations }, (_, i) => i + 1),
    "metric iterations are 1..N, each once",
  );
  const rows = await api.platform.db.orm.em
    .getConnection()
    .execute<{ n: number; d: number }[]>(
      `select count(*)::int as n, count(distinct "iteration")::int as d from "metric_points" where "run_id" = ?`,
      [run.id],
    );
  t.deepEqual(rows[0], { n: iterations, d: iterations }, "metric rows are unique per iteration");
  const res = await api.authedFetch(token, `/api/v1/runs/${run.id}/checkpoint`);
  t.is(res.status, 200);
  const dir = await mkdtemp(path.join(tmpdir(), "proxima-faults-"));
  try {
    const file = path.join(dir, "final.ckpt");
    await writeFile(file, new Uint8Array(await res.arrayBuffer()));
    const state = await readCheckpoint(file);
    t.is(state.counters.iteration, iterations, "the final checkpoint is at the last iteration");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return points;
}
