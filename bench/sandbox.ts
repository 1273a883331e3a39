/**
 * `npm run bench:sandbox [-- --size N] [-- --samples 300] [-- --jobs 400] [-- --api single,split|none]`
 *
 * Grading latency of a small exercise on a warm pool (one job after another: p50/p90/p99 of
 * `pool.run` as the caller sees it, and the share spent inside the child), then throughput with
 * the pool saturated (every child busy and a queue behind them). The job is a "discounted returns"
 * submission graded on three hidden tests in one fresh isolate, as the exercises will run.
 * Goal from the code-submissions issue: p50 < 50 ms warm. Prints a Markdown table.
 *
 * Then the grading path of the catalogue (`exercise.grade`: the discounted-returns exercise, 10
 * tests in one job, compared on the host), and the API's p99 on `GET /api/v1/me` idle and while 50
 * learners keep a submission each in grading (submit, wait for the WebSocket notification, submit again):
 * `single` is one process with every service (as `npm start`), `split` an API process and a
 * submissions process over NATS (nats://127.0.0.1:4222). Goal: loaded p99 < 2× idle p99.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import pg from "pg";
import WebSocket from "ws";
import { z } from "zod";
import { getExercise } from "../exercises/index.ts";
import { SandboxPool, type SandboxResult } from "../sandbox/index.ts";
import { SOLUTIONS } from "../test/exercises/solutions.ts";
import { freePort } from "./common.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: String(Math.max(1, availableParallelism() - 1)) },
    samples: { type: "string", default: "300" },
    jobs: { type: "string", default: "400" },
    api: { type: "string", default: "single,split" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "10" },
  },
});
const size = Number(values.size);
const samples = Number(values.samples);
const jobs = Number(values.jobs);

const CODE = `
function discountedReturns(rewards, gamma) {
  const out = new Array(rewards.length);
  let running = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    running = rewards[t] + gamma * running;
    out[t] = running;
  }
  return out;
}`;
const rewards = Array.from({ length: 128 }, (_, i) => (i % 7 === 0 ? 1 : 0));
const JOB = {
  code: CODE,
  entry: "discountedReturns",
  calls: [
    { name: "hidden-1", args: [rewards, 0.99] },
    { name: "hidden-2", args: [rewards.slice(0, 16), 0.5] },
    { name: "hidden-3", args: [[], 0.9] },
  ],
  schema: z.array(z.number()),
};

const ms = (x: number) => x.toFixed(1);

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function check(result: SandboxResult<number[]>): void {
  if (result.status !== "ok" || !result.calls.every((c) => c.ok)) {
    throw new Error(`the benchmark job failed: ${JSON.stringify(result.error ?? result.calls)}`);
  }
}

// The API under grading load: a Proxima server on a scratch database, in one process (`single`:
// every service, as `npm start`) or two (`split`: `api,users` and `submissions` over NATS).
const ADMIN_URL = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NATS_URL = process.env["BENCH_NATS_URL"] ?? "nats://127.0.0.1:4222";
const SECRET = "bench-secret-0123456789-0123456789-abcdef";
const LEARNERS = 50;

interface Latency {
  p50: number;
  p99: number;
  rps: number;
}

interface ApiUnderGrading {
  layout: string;
  idle: Latency;
  loaded: Latency;
  graded: number;
}

function startProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "main.ts"], {
    env: {
      ...process.env,
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      JWT_SECRET: SECRET,
      API_RATE_LIMIT_PER_MIN: "100000000",
      QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: "100000",
      SUBMISSIONS_CONCURRENT_PER_USER: "10",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function post(
  url: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function learner(url: string, i: number): Promise<string> {
  const body = { email: `bench-${i}@example.com`, password: "bench passphrase 2718", name: `Bench ${i}` };
  await post(url, "/api/v1/auth/register", body);
  const tokens = await post(url, "/api/v1/auth/login", { email: body.email, password: body.password });
  return tokens["accessToken"] as string;
}

async function measure(url: string, token: string, duration: number, connections: number): Promise<Latency> {
  const r = await autocannon({
    url: `${url}/api/v1/me`,
    connections,
    duration,
    headers: { authorization: `Bearer ${token}` },
  });
  if (r.non2xx + r.errors + r.timeouts > 0) throw new Error(`GET /me failed ${r.non2xx + r.errors} times`);
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average };
}

/**
 * One learner's loop: submit, wait for the `{type:"submission"}` WebSocket message (as the dashboard
 * does, rather than polling), submit again, until `until` says stop.
 */
async function keepGrading(
  url: string,
  token: string,
  until: () => boolean,
  count: () => void,
): Promise<void> {
  const code = SOLUTIONS["gae"]!;
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/v1/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let wake: (() => void) | undefined;
  ws.on("message", (data) => {
    if ((JSON.parse(String(data)) as { type?: string }).type === "submission") wake?.();
  });
  try {
    while (!until()) {
      const graded = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await post(url, "/api/v1/exercises/gae/submissions", { code }, token);
      await graded;
      count();
    }
  } finally {
    ws.close();
  }
}

async function apiUnderGrading(
  mode: "single" | "split",
  opts: { duration: number; connections: number },
): Promise<ApiUnderGrading> {
  const name = `proxima_bench_sandbox_${process.pid}_${mode}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${name}`;
  const port = await freePort();
  const common = { DATABASE_URL: dbUrl.toString(), PORT: String(port) };
  const children: ChildProcess[] = [];
  try {
    if (mode === "single") {
      children.push(startProcess({ ...common, SERVICES: "api,users,submissions" }));
    } else {
      const ns = { NATS_URL, MOLECULER_NAMESPACE: `bench-sandbox-${process.pid}` };
      children.push(startProcess({ ...common, ...ns, SERVICES: "submissions", NODE_ID: "bench-grader" }));
      children.push(startProcess({ ...common, ...ns, SERVICES: "api,users", NODE_ID: "bench-api" }));
    }
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      for (const c of children)
        if (c.exitCode !== null) throw new Error(`a server exited with ${c.exitCode}`);
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tokens = await Promise.all(Array.from({ length: LEARNERS + 1 }, (_, i) => learner(url, i)));
    const meToken = tokens[LEARNERS]!;
    // The submissions service may still be joining (split): wait for a first grade, and warm up.
    await keepGradingOnce(url, tokens[0]!);
    await measure(url, meToken, 2, opts.connections);
    const idle = await measure(url, meToken, opts.duration, opts.connections);

    let stopping = false;
    let graded = 0;
    const loops = tokens.slice(0, LEARNERS).map((token) =>
      keepGrading(
        url,
        token,
        () => stopping,
        () => graded++,
      ),
    );
    // Let the queue fill before measuring.
    await new Promise((r) => setTimeout(r, 1000));
    const before = graded;
    const loaded = await measure(url, meToken, opts.duration, opts.connections);
    const during = graded - before;
    stopping = true;
    await Promise.all(loops);
    return {
      layout: mode === "single" ? "one process" : "API and submissions processes over NATS",
      idle,
      loaded,
      graded: during,
    };
  } finally {
    for (const c of children.reverse()) await stop(c);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function keepGradingOnce(url: string, token: string): Promise<void> {
  let done = false;
  await keepGrading(
    url,
    token,
    () => done,
    () => {
      done = true;
    },
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const pool = new SandboxPool({ size, maxQueue: jobs });
  await pool.ready();
  const startupMs = performance.now() - started;
  try {
    for (let i = 0; i < 20; i++) check(await pool.run(JOB));

    const latencies: number[] = [];
    const inside: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const result = await pool.run(JOB);
      latencies.push(performance.now() - t0);
      inside.push(result.wallTimeMs);
      check(result);
    }
    latencies.sort((a, b) => a - b);
    inside.sort((a, b) => a - b);

    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: jobs }, () => pool.run(JOB)));
    const saturatedSeconds = (performance.now() - t0) / 1000;
    for (const result of results) check(result);

    console.log(
      `\nSandbox pool: ${size} child process(es), ${availableParallelism()} cores, ${process.version}`,
    );
    console.log(`pool start (fork + tsx + isolated-vm, all children ready): ${ms(startupMs)} ms\n`);
    console.log("| measure | value |");
    console.log("|---|---|");
    console.log(
      `| latency p50, one job at a time (${samples} jobs, 3 calls each) | ${ms(percentile(latencies, 0.5))} ms |`,
    );
    console.log(`| latency p90 | ${ms(percentile(latencies, 0.9))} ms |`);
    console.log(`| latency p99 | ${ms(percentile(latencies, 0.99))} ms |`);
    console.log(
      `| of which inside the child (isolate, compile, calls), p50 | ${ms(percentile(inside, 0.5))} ms |`,
    );
    console.log(
      `| throughput, ${jobs} jobs submitted at once | ${(jobs / saturatedSeconds).toFixed(0)} jobs/s |`,
    );

    // The catalogue's grading path: one job of 10 calls, then the host-side comparison.
    const exercise = getExercise("discounted-returns")!;
    const code = SOLUTIONS["discounted-returns"]!;
    for (let i = 0; i < 20; i++) await exercise.grade(code, pool);
    const grading: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const report = await exercise.grade(code, pool);
      grading.push(performance.now() - t0);
      if (report.status !== "passed") throw new Error(`grading failed: ${JSON.stringify(report)}`);
    }
    grading.sort((a, b) => a - b);
    const t1 = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => exercise.grade(code, pool)));
    const gradedPerSecond = jobs / ((performance.now() - t1) / 1000);
    console.log(
      `| grading a submission (discounted-returns, 10 tests), p50 / p99, one at a time | ${ms(percentile(grading, 0.5))} / ${ms(percentile(grading, 0.99))} ms |`,
    );
    console.log(
      `| grading throughput, ${jobs} submissions at once | ${gradedPerSecond.toFixed(0)} submissions/s |`,
    );
  } finally {
    await pool.close();
  }

  for (const mode of values.api.split(",").filter((m) => m === "single" || m === "split")) {
    const r = await apiUnderGrading(mode, {
      duration: Number(values.duration),
      connections: Number(values.connections),
    });
    console.log(
      `| GET /api/v1/me p99 (${mode}: ${r.layout}), ${values.connections} connections, ${values.duration} s: idle / while 50 submissions are graded | ${ms(r.idle.p99)} / ${ms(r.loaded.p99)} ms (${(r.loaded.p99 / r.idle.p99).toFixed(2)}×; p50 ${ms(r.idle.p50)} / ${ms(r.loaded.p50)} ms; ${r.loaded.rps.toFixed(0)} req/s, ${r.graded} graded meanwhile) |`,
    );
  }
}

await main();
