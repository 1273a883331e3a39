/**
 * `npm run bench:scale [-- --cost-us 100] [-- --workers 1,2,4] [-- --envs CartPole-v1,…] [-- --envs-per-runner 8] [-- --steps 128]
 *  [-- --rounds 3] [-- --iterations 5] [-- --warmup 2] [-- --runs 3] [-- --no-readme]`
 *
 * Rollout throughput of synchronous distributed PPO with 1, 2 and 4 worker processes over NATS, for
 * CartPole-v1 and for CartPole-v1 with a fixed CPU cost per step (`CartPole-v1-costly-<µs>us`,
 * rl/envs/costly.ts, standing for a heavier simulator), against ideal linear scaling from the
 * 1-worker figure; and the per-iteration cost of moving weights out and trajectories back.
 *
 * How it drives the system, and why: this process is the coordinator. It joins a fresh Moleculer
 * namespace on the NATS server as a plain broker, spawns worker processes exactly as a worker pod runs
 * (`main.ts`, SERVICES=workers, one slot each), and runs the TrainingRun actor's iteration by hand with
 * the same pieces: `BrokerRunnerPool` (the runs node's reserve/init/sample/release calls), `RunLearner`
 * (merge + PPO update) and the wire format (CBOR, Float32Array weights and trajectories). It does not
 * launch runs through the runs service because that adds only database writes, leases and scheduling
 * ticks around the same calls, and would hide the rollout phase inside an iteration timed by the actor;
 * here the rollout phase (weights out → every runner's trajectories back) is timed on its own, next to
 * each runner's own stepping time (`envSeconds + inferenceSeconds`, measured inside the runner) and
 * the learner's update, so that the overhead is measured directly rather than inferred.
 *
 * Scaling is weak scaling, as ops scale a run: each runner keeps `envs-per-runner` envs, so a run with
 * N runners has N × E envs and N × E × steps transitions per iteration. Rounds interleave the worker
 * counts (1, 2, 4, 1, 2, 4, …) so that a change in background load hits every count alike; each figure
 * is the median over rounds of a block of iterations (after warm-up iterations that JIT-compile).
 *
 * Definitions (per iteration):
 * - rollout ms: wall time from taking the weights to having every runner's reply deserialised;
 * - runner ms: the slowest runner's own env + policy time for that rollout;
 * - overhead ms = rollout ms − runner ms: weight broadcast, serialisation, NATS, the runner's copy of
 *   its buffers and state, deserialisation — everything that is not stepping;
 * - bytes out/in: transporter bytes this broker sent/received during the rollout phase (Moleculer's
 *   `moleculer.transporter.packets.{sent,received}.bytes` counters), i.e. request and reply packets;
 * - iteration ms = rollout ms + update ms (the learner's merge, values, GAE and PPO update, here).
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { ServiceBroker } from "moleculer";
import { RunLearner } from "../actors/learner.ts";
import type { RunnerHandle } from "../actors/training-run.ts";
import { loadConfig } from "../config.ts";
import { createRootLogger } from "../lib/logger.ts";
import { createBrokerOptions } from "../moleculer.config.ts";
import { costlyEnvId } from "../rl/envs/costly.ts";
import { resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { BrokerRunnerPool, workerNodeIds } from "../services/runs/runner-pool.ts";
import { writeReadmeSection } from "./common.ts";
import {
  type BenchDatabase,
  createBenchDatabase,
  NATS_URL,
  randomNamespace,
  spawnWorker,
  stopChild,
} from "./scale-cluster.ts";

const { values } = parseArgs({
  options: {
    "cost-us": { type: "string", default: "100" },
    workers: { type: "string", default: "1,2,4" },
    envs: { type: "string" },
    "envs-per-runner": { type: "string", default: "8" },
    steps: { type: "string", default: "128" },
    rounds: { type: "string", default: "5" },
    iterations: { type: "string", default: "6" },
    warmup: { type: "string", default: "3" },
    /**
     * Whole measurements, each with freshly spawned worker processes: on a shared virtual machine two
     * runs of the same code minutes apart differ more than the rounds within one (bench/README.md,
     * "Scaling on MuJoCo"), so a goal is judged on the median over runs.
     */
    runs: { type: "string", default: "1" },
    "no-readme": { type: "boolean", default: false },
    /** The bench/README.md section to write: `scale-results` (CartPole) or e.g. `scale-mujoco-results`. */
    section: { type: "string", default: "scale-results" },
  },
});

const COST_US = Number(values["cost-us"]);
const WORKER_COUNTS = values.workers.split(",").map(Number);
const ENVS_PER_RUNNER = Number(values["envs-per-runner"]);
const STEPS = Number(values.steps);
const ROUNDS = Number(values.rounds);
const ITERATIONS = Number(values.iterations);
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);
const MAX_WORKERS = Math.max(...WORKER_COUNTS);
const CORES = os.availableParallelism();
const ENVS = values.envs?.split(",") ?? ["CartPole-v1", costlyEnvId(COST_US)];

interface IterationSample {
  steps: number;
  rolloutMs: number;
  runnerMs: number;
  overheadMs: number;
  updateMs: number;
  bytesOut: number;
  bytesIn: number;
}

interface Cell {
  env: string;
  workers: number;
  /** One entry per round: that round's block of measured iterations. */
  blocks: IterationSample[][];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function transporterBytes(broker: ServiceBroker): { sent: number; received: number } {
  const read = (name: string) => {
    const metric = broker.metrics.getMetric(name) as unknown as { get(): { value: number } | null } | null;
    return metric?.get()?.value ?? 0;
  };
  return {
    sent: read("moleculer.transporter.packets.sent.bytes"),
    received: read("moleculer.transporter.packets.received.bytes"),
  };
}

/**
 * The run's hyperparameters: CleanRL's CartPole preset (the costly env has CartPole's spaces), with
 * numEnvs = runners × envs per runner, and a step budget the benchmark never reaches.
 */
/** The env's own `cleanrl` preset (CartPole's for the costly variant, which is no public id). */
function runConfig(env: string, workers: number) {
  const presetEnv = env.startsWith("CartPole-v1-costly") ? "CartPole-v1" : env;
  return resolveHyperparameters(presetEnv, "cleanrl", {
    seed: 1,
    numEnvs: workers * ENVS_PER_RUNNER,
    numSteps: STEPS,
    totalTimesteps: 1e9,
  });
}

/** One synchronous PPO iteration, as TrainingRun.iterate runs it, with its rollout phase timed apart. */
async function iterate(
  broker: ServiceBroker,
  pool: BrokerRunnerPool,
  learner: RunLearner,
  handles: readonly RunnerHandle[],
): Promise<IterationSample> {
  const bytes0 = transporterBytes(broker);
  const started = performance.now();
  const weights = learner.weights();
  const samples = await Promise.all(handles.map((h) => pool.sample(h, weights)));
  const sampled = performance.now();
  const bytes1 = transporterBytes(broker);
  learner.learn(
    samples.map((s) => s.rollout),
    started,
  );
  const updated = performance.now();
  const rolloutMs = sampled - started;
  const runnerMs = Math.max(
    ...samples.map((s) => (s.rollout.envSeconds + s.rollout.inferenceSeconds) * 1000),
  );
  return {
    steps: sum(samples.map((s) => s.rollout.numSteps * s.rollout.numEnvs)),
    rolloutMs,
    runnerMs,
    overheadMs: rolloutMs - runnerMs,
    updateMs: updated - sampled,
    bytesOut: bytes1.sent - bytes0.sent,
    bytesIn: bytes1.received - bytes0.received,
  };
}

/** Reserves `workers` runners (one per worker node), runs warm-up then measured iterations, releases. */
async function measureBlock(
  broker: ServiceBroker,
  pool: BrokerRunnerPool,
  learner: RunLearner,
  envId: string,
  workers: number,
): Promise<IterationSample[]> {
  const runId = randomUUID();
  const handles = await pool.reserve(runId, workers, false);
  if (handles === null) throw new Error(`could not reserve ${workers} runners`);
  try {
    if (new Set(handles.map((h) => h.nodeID)).size !== workers)
      throw new Error("runners were not spread one per worker process");
    const config = runConfig(envId, workers);
    await Promise.all(
      handles.map((h, index) => pool.init(h, { envId, config, numEnvs: ENVS_PER_RUNNER, index })),
    );
    for (let i = 0; i < WARMUP; i++) await iterate(broker, pool, learner, handles);
    const block: IterationSample[] = [];
    for (let i = 0; i < ITERATIONS; i++) block.push(await iterate(broker, pool, learner, handles));
    return block;
  } finally {
    await pool.release(runId, handles);
  }
}

async function waitForWorkers(
  broker: ServiceBroker,
  count: number,
  children: readonly ChildProcess[],
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (workerNodeIds(broker).length < count) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead)
      throw new Error(`a worker process exited before joining (code ${dead.exitCode ?? dead.signalCode})`);
    if (Date.now() > deadline)
      throw new Error(`only ${workerNodeIds(broker).length} of ${count} worker processes joined`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Row {
  env: string;
  workers: number;
  sps: number;
  spsRounds: number[];
  ideal: number;
  efficiency: number;
  /** Median over rounds of this round's steps/s ÷ (workers × the same round's 1-worker steps/s). */
  pairedEfficiency: number;
  rolloutMs: number;
  runnerMs: number;
  overheadMs: number;
  updateMs: number;
  overheadOfRollout: number;
  overheadOfIteration: number;
  bytesOutPerRunner: number;
  bytesInPerRunner: number;
}

/** Steps per second of a block: its steps over its summed rollout phases. */
function blockSps(block: readonly IterationSample[]): number {
  return (sum(block.map((s) => s.steps)) / sum(block.map((s) => s.rolloutMs))) * 1000;
}

function summarise(cells: readonly Cell[]): Row[] {
  const rows: Row[] = [];
  for (const cell of cells) {
    const all = cell.blocks.flat();
    const spsRounds = cell.blocks.map(blockSps);
    const base = cells.find((c) => c.env === cell.env && c.workers === 1);
    const baseRounds = base ? base.blocks.map(blockSps) : [];
    const baseSps = base ? median(baseRounds) : Number.NaN;
    const sps = median(spsRounds);
    const ideal = baseSps * cell.workers;
    const rolloutMs = median(all.map((s) => s.rolloutMs));
    const overheadMs = median(all.map((s) => s.overheadMs));
    const updateMs = median(all.map((s) => s.updateMs));
    rows.push({
      env: cell.env,
      workers: cell.workers,
      sps,
      spsRounds,
      ideal,
      efficiency: sps / ideal,
      pairedEfficiency: base
        ? median(spsRounds.map((x, r) => x / (cell.workers * baseRounds[r]!)))
        : Number.NaN,
      rolloutMs,
      runnerMs: median(all.map((s) => s.runnerMs)),
      overheadMs,
      updateMs,
      overheadOfRollout: median(all.map((s) => s.overheadMs / s.rolloutMs)),
      overheadOfIteration: median(all.map((s) => s.overheadMs / (s.rolloutMs + s.updateMs))),
      bytesOutPerRunner: median(all.map((s) => s.bytesOut / cell.workers)),
      bytesInPerRunner: median(all.map((s) => s.bytesIn / cell.workers)),
    });
  }
  return rows;
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (x: number) => `${fmt(x * 100, 1)}%`;
const kb = (x: number) => `${fmt(x / 1024, 1)} KiB`;

function table(rows: readonly Row[]): string {
  const head =
    "| env | worker processes (cores: " +
    CORES +
    ") | steps/s (median) | ideal linear | of linear | of linear, same round | rollout ms | runner stepping ms | overhead ms | update ms | overhead / rollout | overhead / iteration | bytes out / in per runner |";
  const lines = [head, `|${"---|".repeat(13)}`];
  for (const r of rows) {
    const oversubscribed = r.workers > CORES ? ` (> ${CORES} cores)` : "";
    lines.push(
      `| ${r.env} | ${r.workers}${oversubscribed} | ${fmt(r.sps)} | ${fmt(r.ideal)} | ${pct(r.efficiency)} | ${pct(r.pairedEfficiency)} | ${fmt(r.rolloutMs, 1)} | ${fmt(r.runnerMs, 1)} | ${fmt(r.overheadMs, 2)} | ${fmt(r.updateMs, 1)} | ${pct(r.overheadOfRollout)} | ${pct(r.overheadOfIteration)} | ${kb(r.bytesOutPerRunner)} / ${kb(r.bytesInPerRunner)} |`,
    );
  }
  return lines.join("\n");
}

/** The cleanup of the run in progress, for a signal that arrives in the middle of one. */
let cleanupCurrent: (() => Promise<void>) | null = null;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    (cleanupCurrent?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });

/**
 * One whole measurement: a fresh namespace, database and worker processes, every cell's interleaved
 * rounds, then everything stopped. Returns the rows of its table.
 */
async function measureRun(run: number): Promise<Row[]> {
  const namespace = randomNamespace();
  const config = loadConfig({
    ...process.env,
    NATS_URL,
    MOLECULER_NAMESPACE: namespace,
    NODE_ID: `${namespace}-coordinator`,
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
  });
  const logger = createRootLogger(config);
  let database: BenchDatabase | null = null;
  const children: ChildProcess[] = [];
  const broker = new ServiceBroker(createBrokerOptions(config, [], logger));
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await Promise.all(children.map((c) => stopChild(c)));
      await broker.stop().catch(() => {});
      await database?.drop();
    })();
    return cleaned;
  };
  cleanupCurrent = cleanup;

  try {
    database = await createBenchDatabase();
    await broker.start();
    // The first worker applies the database migrations; the others start once it has joined, so that
    // they never race to create the same tables.
    const spawnNext = () =>
      children.push(
        spawnWorker({
          namespace,
          nodeID: `${namespace}-w${children.length + 1}`,
          databaseUrl: database!.url,
          // The runners here belong to no `runs` row (no runs service): the workers' sweep, which frees
          // runners whose run is not active in the database every RUN_LEASE_TTL_MS, would take them away
          // in the middle of a block (NOT_FOUND on the next sample).
          env: { RUN_LEASE_TTL_MS: String(24 * 3600 * 1000) },
        }),
      );
    spawnNext();
    await waitForWorkers(broker, 1, children);
    while (children.length < MAX_WORKERS) spawnNext();
    await waitForWorkers(broker, MAX_WORKERS, children);
    const pool = new BrokerRunnerPool(broker);
    if (RUNS > 1) console.log(`run ${run} of ${RUNS} (namespace ${namespace})`);

    const cells: Cell[] = [];
    const learners = new Map<string, RunLearner>();
    try {
      for (const env of ENVS)
        for (const workers of WORKER_COUNTS) {
          learners.set(`${env}/${workers}`, await RunLearner.create(env, runConfig(env, workers)));
          cells.push({ env, workers, blocks: [] });
        }
      for (let round = 0; round < ROUNDS; round++)
        for (const cell of cells) {
          const learner = learners.get(`${cell.env}/${cell.workers}`)!;
          cell.blocks.push(await measureBlock(broker, pool, learner, cell.env, cell.workers));
          const last = cell.blocks.at(-1)!;
          console.log(
            `  round ${round + 1} ${cell.env} × ${cell.workers}: ` + `${fmt(blockSps(last))} steps/s`,
          );
        }
    } finally {
      for (const l of learners.values()) l.dispose();
    }
    const rows = summarise(cells);
    console.log(`\n${table(rows)}\n`);
    return rows;
  } finally {
    await cleanup();
    cleanupCurrent = null;
  }
}

/**
 * Each run's 1-worker steps/s, and every other count's share of linear, with their medians over the
 * runs (the figure the goals are judged on when there is more than one run).
 */
function runsTable(runs: readonly Row[][]): string {
  const counts = WORKER_COUNTS.filter((w) => w !== 1);
  const head = [
    "| run |",
    ...ENVS.map((e) => ` ${e}: 1 worker steps/s${counts.map((w) => `, ${w} workers of linear`).join("")} |`),
  ].join("");
  const lines = [head, `|${"---|".repeat(1 + ENVS.length)}`];
  // A run's figure for a count: its 1-worker steps/s, or its share of linear.
  const figure = (rows: readonly Row[], env: string, workers: number) => {
    const row = rows.find((r) => r.env === env && r.workers === workers);
    return (workers === 1 ? row?.sps : row?.efficiency) ?? Number.NaN;
  };
  const cells = (of: readonly Row[][]) =>
    ENVS.map((env) => {
      const at = (w: number) => median(of.map((rows) => figure(rows, env, w)));
      return ` ${[fmt(at(1)), ...counts.map((w) => pct(at(w)))].join(", ")} |`;
    }).join("");
  runs.forEach((rows, i) => {
    lines.push(`| ${i + 1} |${cells([rows])}`);
  });
  lines.push(`| median |${cells(runs)}`);
  return lines.join("\n");
}

async function main(): Promise<void> {
  console.log(
    `bench:scale on ${CORES} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}; ` +
      `${ENVS_PER_RUNNER} envs × ${STEPS} steps per runner per iteration, ` +
      `${ROUNDS} rounds × ${ITERATIONS} iterations (+${WARMUP} warm-up) per cell` +
      (RUNS > 1 ? `, ${RUNS} runs with fresh worker processes.` : "."),
  );
  if (MAX_WORKERS > CORES)
    console.log(
      `Note: this machine has ${CORES} cores; with more worker processes than cores (plus this coordinator), ` +
        "extra workers share cores and cannot scale linearly.",
    );
  const runs: Row[][] = [];
  for (let run = 1; run <= RUNS; run++) runs.push(await measureRun(run));
  const rows = runs.at(-1)!;
  const overRuns = RUNS > 1 ? runsTable(runs) : null;
  if (overRuns) console.log(`Over the ${RUNS} runs:\n\n${overRuns}\n`);

  const date = new Date().toISOString().slice(0, 10);
  const section = [
    `Measured ${date} on ${CORES} × ${os.cpus()[0]?.model ?? "unknown CPU"} (shared machine), Node ${process.version}, ` +
      `with \`npm run bench:scale\`: NATS at ${NATS_URL}, one runner per worker process, ` +
      `${ENVS_PER_RUNNER} envs × ${STEPS} steps per runner per iteration (weak scaling), ` +
      `each env's \`cleanrl\` update in the coordinator (${ENVS.map((e) => `${e}: ${runConfig(e, 1).updateEpochs} epochs × ${runConfig(e, 1).numMinibatches} minibatches`).join(", ")}); medians of ${ROUNDS} interleaved ` +
      `rounds × ${ITERATIONS} iterations after ${WARMUP} warm-up. Only ${CORES} cores: ` +
      `rows with more worker processes than cores are oversubscribed.` +
      (overRuns
        ? ` ${RUNS} runs, each with freshly spawned worker processes; the table is the last run's.`
        : ""),
    "",
    table(rows),
    "",
    `steps/s per round: ${rows.map((r) => `${r.env} × ${r.workers}: ${r.spsRounds.map((x) => fmt(x)).join(", ")}`).join("; ")}.`,
    ...(overRuns
      ? ["", `Over the ${RUNS} runs (each run's figure is the median of its rounds):`, "", overRuns]
      : []),
  ].join("\n");
  if (!values["no-readme"]) await writeReadmeSection(values.section, "Scaling (bench:scale)", section);
}

await main();
