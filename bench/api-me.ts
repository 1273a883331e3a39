/**
 * `npm run bench:api`: throughput and tail latency of an authenticated `GET /api/v1/me`, the cold
 * start of a Proxima process, and its memory.
 *
 * The server runs in its own process, from the compiled JavaScript (`npm run build`, as the image
 * runs it), so that the load generator does not share its event loop; on a 2-core machine they
 * still share the cores, which this table reports as is.
 * Usage: npm run bench:api [-- --duration 10 --connections 50]
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import pg from "pg";
import { freePort } from "./common.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    "skip-embedded": { type: "boolean", default: false },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const adminUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Server {
  child: ChildProcess;
  url: string;
  /** Milliseconds from spawn to the first 200 of /readyz. */
  coldStartMs: number;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ["dist/main.js"], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      SERVICES: "api,users",
      PORT: String(port),
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { child, url, coldStartMs: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await exited;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  if (!res.ok) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function login(url: string): Promise<string> {
  const body = { email: "bench@example.com", password: "bench passphrase 2718", name: "Bench" };
  const headers = { "content-type": "application/json" };
  await fetch(`${url}/api/v1/auth/register`, { method: "POST", headers, body: JSON.stringify(body) });
  const tokens = await json(
    await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers,
      body: JSON.stringify({ email: body.email, password: body.password }),
    }),
  );
  return tokens["accessToken"] as string;
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `proxima_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

execFileSync("npm", ["run", "-s", "build"], { stdio: "inherit" });

const secret = "bench-secret-0123456789-0123456789-abcdef";
const rows: string[] = [];

await withDatabase(async (databaseUrl) => {
  const server = await startServer({
    DATABASE_URL: databaseUrl,
    JWT_SECRET: secret,
    API_RATE_LIMIT_PER_MIN: "100000000",
  });
  try {
    const token = await login(server.url);
    const rssIdle = await rssMiB(server.child.pid!);
    // Warm-up, so that the JIT and connection pools are in their steady state.
    await autocannon({
      url: `${server.url}/api/v1/me`,
      connections,
      duration: 2,
      headers: { authorization: `Bearer ${token}` },
    });
    const result = await autocannon({
      url: `${server.url}/api/v1/me`,
      connections,
      duration,
      headers: { authorization: `Bearer ${token}` },
    });
    const rssLoaded = await rssMiB(server.child.pid!);
    const non2xx = result.non2xx + result.errors + result.timeouts;
    console.log(`GET /api/v1/me, ${connections} connections, ${duration} s (server in its own process)`);
    console.log(
      `  requests/s: mean ${result.requests.average.toFixed(0)}, median ${result.requests.p50.toFixed(0)}`,
    );
    console.log(
      `  latency ms: p50 ${result.latency.p50}, p99 ${result.latency.p99}, max ${result.latency.max}`,
    );
    console.log(`  non-2xx/errors/timeouts: ${non2xx}`);
    console.log(`  RSS MiB: idle ${rssIdle.toFixed(0)}, after load ${rssLoaded.toFixed(0)}`);
    console.log(
      `  cold start to /readyz (external PostgreSQL, migrations applied): ${server.coldStartMs.toFixed(0)} ms`,
    );
    rows.push(
      `| GET /me, ${connections} conns, ${duration} s | ${result.requests.average.toFixed(0)} req/s (median ${result.requests.p50.toFixed(0)}) | p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms | ${non2xx} | ${rssIdle.toFixed(0)} → ${rssLoaded.toFixed(0)} MiB | ${server.coldStartMs.toFixed(0)} ms |`,
    );
  } finally {
    await stopServer(server);
  }
});

if (!values["skip-embedded"]) {
  // Cold start on the embedded PostgreSQL: first start (initdb) and the start after, on one data dir.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "proxima-bench-"));
  // As root the embedded server runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dataDir, 0o755);
  try {
    const env = { PROXIMA_DATA_DIR: dataDir, JWT_SECRET: secret, EMBEDDED_PG_PORT: String(await freePort()) };
    const first = await startServer(env);
    await stopServer(first);
    const second = await startServer(env);
    await stopServer(second);
    console.log(
      `  cold start to /readyz (embedded PostgreSQL): first start ${first.coldStartMs.toFixed(0)} ms, next start ${second.coldStartMs.toFixed(0)} ms`,
    );
    rows.push(
      `| cold start, embedded PostgreSQL | first start (initdb) ${first.coldStartMs.toFixed(0)} ms | next start ${second.coldStartMs.toFixed(0)} ms | | | |`,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

console.log("\nMarkdown rows for bench/README.md:");
for (const r of rows) console.log(r);
