/**
 * `npm run bench:custom-env [-- --envs 1,8,32] [-- --rounds 5] [-- --crossings 2000] [-- --warmup 200] [-- --no-readme]`
 *
 * Steps of a learner's environment in an env session (sandbox/env-session.ts): a JavaScript
 * CartPole-v1 (Gymnasium's dynamics, seeded per instance, time limit 500) with N instances in one
 * isolate of one child process, stepped by batched crossings (one IPC round trip per vector step,
 * autoreset inside it) with uniformly random actions. For each N it reports env steps per second,
 * the time of one crossing as the caller awaits it, that time per env step, and how much of a crossing
 * is the env's own code: the same script run in this process without any sandbox gives its cost per
 * env step, and the rest of a crossing is the sandbox (IPC both ways, V8 serialisation, the copy into
 * and out of the isolate, the checks). Rounds interleave the N's, each with a fresh session (so the
 * open time is measured too); figures are medians over rounds.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { EnvSession } from "../sandbox/index.ts";
import { writeReadmeSection } from "./common.ts";

const { values } = parseArgs({
  options: {
    envs: { type: "string", default: "1,8,32" },
    rounds: { type: "string", default: "5" },
    crossings: { type: "string", default: "2000" },
    warmup: { type: "string", default: "200" },
    "no-readme": { type: "boolean", default: false },
  },
});
const ENV_COUNTS = values.envs.split(",").map(Number);
const ROUNDS = Number(values.rounds);
const CROSSINGS = Number(values.crossings);
const WARMUP = Number(values.warmup);

const CARTPOLE = `
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function createEnv() {
  const s = new Float64Array(4);
  let random = mulberry32(0);
  return {
    observationSpace: { kind: "box", low: [-4.8, -Infinity, -0.41887903, -Infinity], high: [4.8, Infinity, 0.41887903, Infinity] },
    actionSpace: { kind: "discrete", n: 2 },
    maxEpisodeSteps: 500,
    reset(seed) {
      if (seed !== undefined) random = mulberry32(seed);
      for (let i = 0; i < 4; i++) s[i] = random() * 0.1 - 0.05;
      return s;
    },
    step(action) {
      const force = action === 1 ? 10 : -10;
      const cos = Math.cos(s[2]), sin = Math.sin(s[2]);
      const temp = (force + 0.05 * s[3] * s[3] * sin) / 1.1;
      const thetaAcc = (9.8 * sin - cos * temp) / (0.5 * (4 / 3 - (0.1 * cos * cos) / 1.1));
      const xAcc = temp - (0.05 * thetaAcc * cos) / 1.1;
      s[0] += 0.02 * s[1];
      s[1] += 0.02 * xAcc;
      s[2] += 0.02 * s[3];
      s[3] += 0.02 * thetaAcc;
      return { observation: s, reward: 1, terminated: Math.abs(s[0]) > 2.4 || Math.abs(s[2]) > 0.20943951 };
    },
  };
}`;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Random actions, drawn before timing starts. */
function actionBlocks(n: number, count: number, seed: number): Int32Array[] {
  let a = seed >>> 0;
  return Array.from({ length: count }, () =>
    Int32Array.from({ length: n }, () => {
      a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
      return a >>> 31;
    }),
  );
}

interface Block {
  openMs: number;
  stepsPerSecond: number;
  /** Each crossing, as the caller awaits it. */
  crossingUs: number[];
}

async function measureBlock(n: number, round: number): Promise<Block> {
  const t0 = performance.now();
  const session = await EnvSession.open(CARTPOLE, n, { seed: round });
  const openMs = performance.now() - t0;
  try {
    await session.reset(Array.from({ length: n }, (_, i) => round * 1000 + i));
    const actions = actionBlocks(n, WARMUP + CROSSINGS, round + 1);
    for (let k = 0; k < WARMUP; k++) await session.step(actions[k]!);
    const crossingUs: number[] = [];
    const start = performance.now();
    for (let k = WARMUP; k < WARMUP + CROSSINGS; k++) {
      const c0 = performance.now();
      await session.step(actions[k]!);
      crossingUs.push((performance.now() - c0) * 1000);
    }
    const seconds = (performance.now() - start) / 1000;
    return { openMs, stepsPerSecond: (n * CROSSINGS) / seconds, crossingUs };
  } finally {
    await session.close();
  }
}

/**
 * The env's own cost per step, in this process and without a sandbox: the same script, the same
 * random actions, autoreset and time limit done the simplest way.
 */
function inProcessUsPerStep(n: number): number {
  const createEnv = new Function(`${CARTPOLE}\nreturn createEnv;`)() as () => {
    maxEpisodeSteps: number;
    reset(seed?: number): ArrayLike<number>;
    step(action: number): { observation: ArrayLike<number>; reward: number; terminated: boolean };
  };
  const envs = Array.from({ length: n }, createEnv);
  const elapsed = new Int32Array(n);
  const obs = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) obs.set(envs[i]!.reset(i), i * 4);
  const actions = actionBlocks(n, WARMUP + CROSSINGS, 99);
  const run = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const a = actions[k]!;
      for (let i = 0; i < n; i++) {
        const r = envs[i]!.step(a[i]!);
        obs.set(r.observation, i * 4);
        if (r.terminated || ++elapsed[i]! >= 500) {
          elapsed[i] = 0;
          obs.set(envs[i]!.reset(), i * 4);
        }
      }
    }
  };
  run(0, WARMUP);
  const t0 = performance.now();
  run(WARMUP, WARMUP + CROSSINGS);
  return ((performance.now() - t0) * 1000) / (n * CROSSINGS);
}

interface Row {
  n: number;
  stepsPerSecond: number;
  roundsSps: number[];
  crossingP50: number;
  crossingP99: number;
  perEnvStep: number;
  envCodeUs: number;
  overheadUs: number;
  speedup: number;
  openMs: number;
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const cores = os.availableParallelism();
  const load = os.loadavg()[0]!;
  console.log(
    `bench:custom-env on ${cores} × ${cpu}, Node ${process.version}, load average ${load.toFixed(1)}; ` +
      `N = ${ENV_COUNTS.join(", ")}, ${ROUNDS} rounds × ${CROSSINGS} crossings (+${WARMUP} warm-up).`,
  );
  const blocks = new Map<number, Block[]>(ENV_COUNTS.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const n of ENV_COUNTS) {
      const block = await measureBlock(n, round);
      blocks.get(n)!.push(block);
      console.log(
        `  round ${round + 1} N = ${n}: ${fmt(block.stepsPerSecond)} steps/s, ` +
          `${fmt(median(block.crossingUs), 1)} µs per crossing, open ${fmt(block.openMs)} ms`,
      );
    }
  }
  const envCodeRounds = Array.from({ length: ROUNDS }, () => inProcessUsPerStep(Math.max(...ENV_COUNTS)));
  const envCodeUs = median(envCodeRounds);

  const base = median(blocks.get(ENV_COUNTS[0]!)!.map((b) => b.stepsPerSecond));
  const rows: Row[] = ENV_COUNTS.map((n) => {
    const bs = blocks.get(n)!;
    const all = bs.flatMap((b) => b.crossingUs);
    const roundsSps = bs.map((b) => b.stepsPerSecond);
    const stepsPerSecond = median(roundsSps);
    const crossingP50 = median(all);
    return {
      n,
      stepsPerSecond,
      roundsSps,
      crossingP50,
      crossingP99: quantile(all, 0.99),
      perEnvStep: 1e6 / stepsPerSecond,
      envCodeUs: n * envCodeUs,
      overheadUs: crossingP50 - n * envCodeUs,
      speedup: stepsPerSecond / base,
      openMs: median(bs.map((b) => b.openMs)),
    };
  });

  const lines = [
    `| envs per crossing (N) | steps/s | µs per crossing, p50 (p99) | µs per env step | of a crossing: env code (est.) / sandbox | steps/s vs N = ${ENV_COUNTS[0]} | session open |`,
    `|${"---|".repeat(7)}`,
    ...rows.map(
      (r) =>
        `| ${r.n} | ${fmt(r.stepsPerSecond)} | ${fmt(r.crossingP50, 1)} (${fmt(r.crossingP99, 1)}) | ${fmt(r.perEnvStep, 2)} | ${fmt(r.envCodeUs, 1)} / ${fmt(r.overheadUs, 1)} µs | ${fmt(r.speedup, 1)}× | ${fmt(r.openMs)} ms |`,
    ),
  ];
  const table = lines.join("\n");
  console.log(`\n${table}\n`);
  console.log(`The env's own code, in this process without a sandbox: ${fmt(envCodeUs, 3)} µs per env step.`);

  const date = new Date().toISOString().slice(0, 10);
  const section = [
    `Measured ${date} on ${cores} × ${cpu} (shared machine, load average ${load.toFixed(1)} at the start), Node ${process.version}, ` +
      `with \`npm run bench:custom-env\`: JavaScript CartPole-v1, random actions, default limits; medians of ${ROUNDS} interleaved rounds × ` +
      `${fmt(CROSSINGS)} crossings (after ${WARMUP} warm-up), a fresh session per round. steps/s and µs per env step are ` +
      "wall-clock figures of whole blocks (the slow tail included); the crossing columns are per crossing. The env's own code " +
      `costs ${fmt(envCodeUs, 3)} µs per env step in this process without a sandbox (median of as many runs); the rest of a ` +
      "crossing (p50) is the sandbox.",
    "",
    table,
    "",
    `steps/s per round: ${rows.map((r) => `N = ${r.n}: ${r.roundsSps.map((x) => fmt(x)).join(", ")}`).join("; ")}.`,
  ].join("\n");
  if (!values["no-readme"])
    await writeReadmeSection("custom-env-results", "Custom environments (bench:custom-env)", section);
}

await main();
