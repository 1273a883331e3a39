/**
 * `npm run bench:sweep`: what ASHA saves. A 16-trial grid (learning rate × clip coefficient) on
 * CartPole-v1 with the rl-zoo preset (100k steps per trial), run twice over 2 worker processes (one
 * runner slot each, `maxConcurrent` 2): once with ASHA early stopping (by default grace period 10k
 * steps, η = 3: rungs 10k, 30k, 90k; `--grace`, `--eta`) and once without. Printed: wall time, env steps spent (the sum of every
 * trial's steps, pruned ones included), the best trial's final episodic return, and how many trials
 * reached 475. Goal: the ASHA sweep spends ≤ 50% of the steps for the same best result.
 *
 * The cluster is throwaway, as bench:scale's (bench/scale-cluster.ts): a database of its own on the
 * local PostgreSQL, a random Moleculer namespace on the local NATS, worker processes started as a worker
 * pod runs. This process hosts the API, users, runs (so the learners) and sweeps services.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "../config.ts";
import type { SweepWithTrials } from "../contracts/sweeps.ts";
import { type Platform, startPlatform } from "../platform.ts";
import { freePort, writeReadmeSection } from "./common.ts";
import { createBenchDatabase, NATS_URL, randomNamespace, spawnWorker, stopChild } from "./scale-cluster.ts";

const { values } = parseArgs({
  options: {
    "no-readme": { type: "boolean", default: false },
    grace: { type: "string", default: "10000" },
    eta: { type: "string", default: "3" },
  },
});

const ADMIN = { email: "bench@proxima.bench", password: `bench ${randomBytes(12).toString("hex")}` };

const SWEEP = {
  name: "bench: CartPole lr × clip",
  env: "CartPole-v1",
  preset: "zoo",
  totalSteps: 100_000,
  method: "grid",
  searchSpace: {
    learningRate: { values: [3e-4, 1e-3, 2e-3, 3e-3] },
    clipCoef: { values: [0.1, 0.2, 0.3, 0.4] },
  },
  maxTrials: 16,
  maxConcurrent: 2,
};
const ASHA = { type: "asha", gracePeriod: Number(values.grace), reductionFactor: Number(values.eta) };

interface Outcome {
  label: string;
  wallSeconds: number;
  steps: number;
  best: number | null;
  bestParams: string;
  reached: number;
  pruned: number;
  prunedAt: Record<number, number>;
}

async function runSweep(url: string, token: string, label: string, body: object): Promise<Outcome> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const started = performance.now();
  const res = await fetch(`${url}/api/v1/sweeps`, { method: "POST", headers, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`create sweep: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as SweepWithTrials;
  let sweep: SweepWithTrials;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    sweep = (await (await fetch(`${url}/api/v1/sweeps/${id}`, { headers })).json()) as SweepWithTrials;
    if (sweep.status !== "running") break;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  if (sweep.status !== "completed") throw new Error(`${label}: the sweep ended ${sweep.status}`);
  const prunedAt: Record<number, number> = {};
  for (const t of sweep.trials) if (t.pruned) prunedAt[t.pruned.rung] = (prunedAt[t.pruned.rung] ?? 0) + 1;
  const best = sweep.best;
  return {
    label,
    wallSeconds,
    steps: sweep.trials.reduce((s, t) => s + t.steps, 0),
    best: best?.metric ?? null,
    bestParams: best ? `lr ${best.params["learningRate"]}, clip ${best.params["clipCoef"]}` : "-",
    reached: sweep.trials.filter((t) => (t.finalMetric ?? 0) >= 475).length,
    pruned: sweep.trials.filter((t) => t.status === "pruned").length,
    prunedAt,
  };
}

function table(rows: Outcome[]): string {
  const lines = [
    "| sweep | wall time | env steps spent | of the full sweep | best final return (trial) | trials ≥ 475 | pruned (at rung) |",
    "|---|---|---|---|---|---|---|",
  ];
  const full = rows.find((r) => r.label === "no early stopping")!.steps;
  for (const r of rows) {
    const at = Object.entries(r.prunedAt)
      .map(([rung, n]) => `${n} at ${Number(rung) / 1000}k`)
      .join(", ");
    lines.push(
      `| ${r.label} | ${r.wallSeconds.toFixed(1)} s | ${r.steps.toLocaleString("en-US")} | ${((100 * r.steps) / full).toFixed(1)}% | ${r.best?.toFixed(1) ?? "-"} (${r.bestParams}) | ${r.reached} / 16 | ${r.pruned}${at ? ` (${at})` : ""} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const namespace = randomNamespace();
  const database = await createBenchDatabase();
  const workers = [1, 2].map((i) =>
    spawnWorker({ namespace, nodeID: `${namespace}-w${i}`, databaseUrl: database.url }),
  );
  let platform: Platform | undefined;
  const cleanup = async () => {
    await platform?.stop().catch(() => {});
    await Promise.all(workers.map((w) => stopChild(w)));
    await database.drop();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      cleanup().finally(() => process.exit(130));
    });
  try {
    const config = loadConfig({
      ...process.env,
      SERVICES: "api,users,runs,sweeps",
      NATS_URL,
      MOLECULER_NAMESPACE: namespace,
      NODE_ID: `${namespace}-coordinator`,
      DATABASE_URL: database.url,
      PORT: String(await freePort()),
      JWT_SECRET: randomBytes(32).toString("hex"),
      PROXIMA_ADMIN_EMAIL: ADMIN.email,
      PROXIMA_ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
    });
    platform = await startPlatform(config);
    const url = platform.apiUrl!;
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const broker = platform.broker;
    for (let waited = 0; ; waited += 200) {
      const n = broker.registry
        .getNodeList({ onlyAvailable: true, withServices: true })
        .filter((node) => (node.services as { name: string }[]).some((s) => s.name === "workers")).length;
      if (n === 2) break;
      if (waited > 60_000) throw new Error("the 2 worker processes did not join");
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`2 worker processes joined; ${os.cpus().length} cores, Node ${process.version}`);
    const label = `ASHA (grace ${ASHA.gracePeriod / 1000}k, η ${ASHA.reductionFactor})`;
    const asha = await runSweep(url, accessToken, label, { ...SWEEP, earlyStopping: ASHA });
    console.log(asha);
    const full = await runSweep(url, accessToken, "no early stopping", SWEEP);
    console.log(full);
    const ratio = asha.steps / full.steps;
    const section = [
      `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}, with \`npm run bench:sweep\`: 16 trials (learning rate 3e-4, 1e-3, 2e-3, 3e-3 × clip 0.1, 0.2, 0.3, 0.4), rl-zoo CartPole-v1 preset, 100k steps per trial, maxConcurrent 2 over 2 worker processes (1 runner slot each); the learners run in the coordinator process.`,
      "",
      table([asha, full]),
      "",
      `Steps spent with ASHA: ${(100 * ratio).toFixed(1)}% of the full sweep (goal ≤ 50%: ${ratio <= 0.5 ? "met" : "not met"}); best final return ${asha.best?.toFixed(1)} with ASHA against ${full.best?.toFixed(1)} without (same best result: ${asha.best !== null && full.best !== null && asha.best >= Math.min(475, full.best) ? "yes" : "no"}).`,
    ].join("\n");
    console.log(`\n${section}\n`);
    if (!values["no-readme"]) await writeReadmeSection("sweep-results", "Sweeps (bench:sweep)", section);
  } finally {
    await cleanup();
  }
}

await main();
