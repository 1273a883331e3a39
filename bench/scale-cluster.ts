/**
 * The throwaway cluster of `npm run bench:scale`: a database of its own on the local PostgreSQL server
 * (worker processes open one at start, as every Proxima process does), worker child processes started
 * exactly as a worker pod runs (`main.ts` with SERVICES=workers) on a random Moleculer namespace, and
 * the teardown of all of it. Nothing here outlives the benchmark: children are stopped (SIGKILL after a
 * grace period) and the database is dropped with its sessions.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import pg from "pg";

const ROOT = path.resolve(import.meta.dirname, "..");

export const SERVER_URL = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const NATS_URL = process.env["BENCH_NATS_URL"] ?? "nats://127.0.0.1:4222";

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `proxima_bench_${randomBytes(6).toString("hex")}`;
  await withAdmin((c) => c.query(`create database ${c.escapeIdentifier(name)}`));
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => {
      dropped ??= withAdmin(async (c) => {
        await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
      });
      return dropped;
    },
  };
}

export function randomNamespace(): string {
  return `bench-scale-${randomBytes(4).toString("hex")}`;
}

/** One worker process with one runner slot: a worker pod limited to one core's worth of work. */
export function spawnWorker(opts: {
  namespace: string;
  nodeID: string;
  databaseUrl: string;
  /** Settings of the worker's own (config.ts), over the defaults above. */
  env?: Record<string, string>;
}): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      SERVICES: "workers",
      NATS_URL,
      MOLECULER_NAMESPACE: opts.namespace,
      NODE_ID: opts.nodeID,
      DATABASE_URL: opts.databaseUrl,
      WORKER_SLOTS: "1",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      ...opts.env,
    },
    // Logs go to stdout at "warn": a worker that fails to start says why.
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/** SIGTERM (the worker drains and leaves the cluster), then SIGKILL if it is still there after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
