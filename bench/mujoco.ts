/**
 * `npm run bench:mujoco [-- --envs HalfCheetah-v5,Hopper-v5] [-- --preset cleanrl|zoo] [-- --seeds 3]
 *   [-- --steps 1000000] [-- --sb3 HalfCheetah-v5,…] [-- --sb3-seeds 1] [-- --cost] [-- --no-readme]`
 *
 * Issue 16's goals on Gymnasium's MuJoCo locomotion tasks:
 * - learning: PPO with a preset for `--steps` env steps, per seed, then the deterministic policy on 10
 *   episodes seeded seed + 1,000,000 + i as Gymnasium seeds them; the anchors (CleanRL's
 *   `ppo_continuous_action` on v4: HalfCheetah ≈ 1,500, Hopper ≈ 2,000) and, for `zoo`, rl-zoo's
 *   `benchmark.md` figure (goal: within 15%);
 * - speed side by side: `--sb3` runs Stable-Baselines3 PPO with the same preset right after Proxima's
 *   run of the same seed (scripts/reference/sb3_ppo.py, one PyTorch thread, Python Gymnasium + MuJoCo),
 *   and the table gives env steps/s with training for both and their ratio (goal: ≥ 3× on HalfCheetah);
 * - `--cost`: µs per env step (random actions, 10k steps) here and in Python Gymnasium, and the RSS of
 *   one process holding 1 and 16 envs of each kind.
 * Results are printed and written into bench/README.md's `## MuJoCo` section.
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { parseArgs, promisify } from "node:util";
import { makeEnv, prepareEnv } from "../rl/envs/registry.ts";
import type { PresetName } from "../rl/ppo/hyperparameters.ts";
import { writeReadmeSection } from "./common.ts";
import {
  benchRun,
  f1,
  median,
  PYTHON,
  type RunResult,
  requireSb3,
  runsTable,
  type Sb3Result,
  sb3Run,
} from "./ppo-runs.ts";

const run = promisify(execFile);

/** Reference returns: CleanRL's v4 anchors (issue 16) and rl-zoo benchmark.md's PPO rows (v3 envs, 1M steps). */
const ANCHORS: Record<string, { cleanrl?: number; zoo?: number }> = {
  "HalfCheetah-v5": { cleanrl: 1500, zoo: 5819.1 },
  "Hopper-v5": { cleanrl: 2000, zoo: 2410.4 },
  "Walker2d-v5": { zoo: 3478.8 },
  "Ant-v5": { zoo: 1327.2 },
  "Swimmer-v5": { zoo: 281.6 },
};

const { values } = parseArgs({
  options: {
    envs: { type: "string", default: "HalfCheetah-v5,Hopper-v5" },
    preset: { type: "string", default: "cleanrl" },
    seeds: { type: "string", default: "3" },
    steps: { type: "string", default: "1000000" },
    sb3: { type: "string" },
    "sb3-seeds": { type: "string", default: "1" },
    cost: { type: "boolean", default: false },
    "no-readme": { type: "boolean", default: false },
  },
});

const preset = values.preset as PresetName;
const envs = values.envs.split(",");
const steps = Number(values.steps);
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const sb3Envs = new Set(values.sb3 ? values.sb3.split(",") : []);
const sb3Seeds = Number(values["sb3-seeds"]);
if (sb3Envs.size > 0) requireSb3();

/** The goal a median must meet: the CleanRL anchor, or 85% of rl-zoo's figure for `zoo`. */
function goalOf(env: string): number | undefined {
  const a = ANCHORS[env];
  if (!a) return undefined;
  if (preset === "cleanrl") return a.cleanrl;
  return a.zoo === undefined ? undefined : a.zoo * 0.85;
}

function goalsTable(results: RunResult[], sb3: Sb3Result[]): string {
  const head =
    "| env | preset | steps | goal | median eval (seeds) | met | SB3 eval (seeds) | steps/s Proxima | steps/s SB3 | ratio (same seeds) |";
  const rows = envs.map((env) => {
    const rs = results.filter((r) => r.env === env);
    const ss = sb3.filter((s) => s.env === env);
    const goal = goalOf(env);
    const m = median(rs.map((r) => r.evalMean));
    const paired = rs.filter((r) => ss.some((s) => s.seed === r.seed));
    const ratio =
      paired.length > 0
        ? `${(median(paired.map((r) => r.sps)) / median(ss.map((s) => s.sps))).toFixed(2)}×`
        : "—";
    return (
      `| ${env} | ${preset} | ${steps} | ${goal === undefined ? "—" : `≥ ${Math.round(goal)}`} | ` +
      `${f1(m)} (${rs.map((r) => f1(r.evalMean)).join(", ")}) | ${goal === undefined ? "—" : m >= goal ? "yes" : "**no**"} | ` +
      `${ss.length ? `${f1(median(ss.map((s) => s.evalMean)))} (${ss.map((s) => f1(s.evalMean)).join(", ")})` : "—"} | ` +
      `${Math.round(median(rs.map((r) => r.sps)))} | ${ss.length ? Math.round(median(ss.map((s) => s.sps))) : "—"} | ${ratio} |`
    );
  });
  return [head, "|---|---|---|---|---|---|---|---|---|---|", ...rows].join("\n");
}

interface CostRow {
  env: string;
  usPerStep: number;
  gymUsPerStep: number;
  rssOneMiB: number;
  rssSixteenMiB: number;
}

/** µs per step of one env under uniform random actions, median of 5 blocks of 2,000 steps. */
function stepMicros(env: string): number {
  const e = makeEnv(env);
  const dim = e.actionDim;
  const { low, high } = e.actionSpace as { low: Float32Array; high: Float32Array };
  const action = new Float32Array(dim);
  let state = 12345;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  e.reset({ seed: 0 });
  const blocks: number[] = [];
  for (let b = 0; b < 5; b++) {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      for (let k = 0; k < dim; k++) action[k] = low[k] + (high[k] - low[k]) * uniform();
      const r = e.step(action);
      if (r.terminated || r.truncated) e.reset();
    }
    blocks.push(((performance.now() - t0) * 1000) / 2000);
  }
  e.close?.();
  return median(blocks);
}

/** The same measurement in Python Gymnasium (scripts/reference/gym_step_time.py). */
async function gymStepMicros(env: string): Promise<number> {
  const { stdout } = await run(PYTHON, ["scripts/reference/gym_step_time.py", "--env", env]);
  return (JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { usPerStep: number }).usPerStep;
}

/** RSS growth of this process for n envs of a kind (each reset once), in MiB. */
function rssFor(env: string, n: number): number {
  global.gc?.();
  const before = process.memoryUsage().rss;
  const made = Array.from({ length: n }, () => makeEnv(env));
  for (const e of made) e.reset({ seed: 0 });
  const after = process.memoryUsage().rss;
  for (const e of made) e.close?.();
  return (after - before) / 2 ** 20;
}

async function costTable(): Promise<string> {
  const rows: CostRow[] = [];
  for (const env of envs) {
    await prepareEnv(env);
    rows.push({
      env,
      usPerStep: stepMicros(env),
      gymUsPerStep: await gymStepMicros(env),
      rssOneMiB: rssFor(env, 1),
      rssSixteenMiB: rssFor(env, 16),
    });
  }
  const head = "| env | µs per step (Proxima) | µs per step (Gymnasium) | RSS 1 env MiB | RSS 16 envs MiB |";
  return [
    head,
    "|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.env} | ${r.usPerStep.toFixed(1)} | ${r.gymUsPerStep.toFixed(1)} | ${r.rssOneMiB.toFixed(1)} | ${r.rssSixteenMiB.toFixed(1)} |`,
    ),
  ].join("\n");
}

const results: RunResult[] = [];
const sb3: Sb3Result[] = [];
const cost = values.cost ? await costTable() : "";
if (cost) process.stdout.write(`${cost}\n`);
for (const env of seeds.length > 0 ? envs : []) {
  for (const seed of seeds) {
    let next = 0;
    const r = await benchRun(env, preset, seed, {
      totalTimesteps: steps,
      onIteration: (step) => {
        if (step >= next) {
          process.stderr.write(`  ${env} seed ${seed}: ${step} steps\n`);
          next += 100_000;
        }
      },
    });
    results.push(r);
    process.stderr.write(
      `${env} ${preset} seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}\n`,
    );
    // Side by side: SB3 with the same preset and seed right after ours, on the same machine and load.
    if (sb3Envs.has(env) && seed <= sb3Seeds) {
      const s = await sb3Run(env, preset, seed, steps);
      sb3.push(s);
      process.stderr.write(
        `  SB3 seed ${seed}: ${f1(s.wallSeconds)} s, ${Math.round(s.sps)} steps/s, eval ${f1(s.evalMean)}\n`,
      );
    }
  }
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}`;
const command = `npm run bench:mujoco${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const section = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`${command}\`.`,
  ...(results.length ? ["", goalsTable(results, sb3), "", runsTable(results, sb3)] : []),
  ...(cost ? ["", cost] : []),
].join("\n");
process.stdout.write(`${section}\n`);
if (!values["no-readme"]) {
  await writeReadmeSection(
    values.cost && results.length === 0
      ? "mujoco-cost"
      : preset === "zoo"
        ? "mujoco-zoo-results"
        : "mujoco-results",
    "MuJoCo (bench:mujoco)",
    section,
  );
}
