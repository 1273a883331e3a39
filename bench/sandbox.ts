/**
 * `npm run bench:sandbox [-- --size N] [-- --samples 300] [-- --jobs 400]`
 *
 * Grading latency of a small exercise on a warm pool (one job after another: p50/p90/p99 of
 * `pool.run` as the caller sees it, and the share spent inside the child), then throughput with
 * the pool saturated (every child busy and a queue behind them). The job is a "discounted returns"
 * submission graded on three hidden tests in one fresh isolate, as the exercises will run.
 * Goal from the code-submissions issue: p50 < 50 ms warm. Prints a Markdown table.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { SandboxPool, type SandboxResult } from "../sandbox/index.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: String(Math.max(1, availableParallelism() - 1)) },
    samples: { type: "string", default: "300" },
    jobs: { type: "string", default: "400" },
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

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function check(result: SandboxResult<number[]>): void {
  if (result.status !== "ok" || !result.calls.every((c) => c.ok)) {
    throw new Error(`the benchmark job failed: ${JSON.stringify(result.error ?? result.calls)}`);
  }
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

    const ms = (x: number) => x.toFixed(1);
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
  } finally {
    await pool.close();
  }
}

await main();
