/**
 * `npm run bench:ppo [-- --envs CartPole-v1,Acrobot-v1,…] [-- --seeds 3] [-- --sb3 CartPole-v1,…]
 *   [-- --cleanrl] [-- --onnx-python] [-- --quick] [-- --no-readme]`
 *
 * The `zoo` preset on the five classic-control envs at rl-zoo's own budgets, against the goals of
 * issue 14 (rl-zoo `benchmark.md`): per seed, wall seconds, env steps/s with training, where the time
 * goes, and the deterministic evaluation (argmax / clipped mean) on 10 episodes, episode i seeded
 * seed + 1,000,000 + i exactly as Gymnasium seeds them.
 *
 * --sb3 runs Stable-Baselines3 PPO with the same zoo entry beside it, in the same run
 *   (scripts/reference/sb3_ppo.py in .venv-ref; one PyTorch thread), and reports the wall-time ratio.
 * --onnx-python exports each final policy as ONNX and evaluates it in Python Gymnasium with
 *   onnxruntime (scripts/reference/eval_onnx.py) on the same seeds, and reports the largest
 *   per-episode difference from the platform's own evaluation (0 for Discrete actions).
 * --cleanrl adds CleanRL's CartPole preset (500k steps; 100k with --quick).
 * Results are printed and written into bench/README.md's `## PPO` section.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import type { PresetName } from "../rl/ppo/hyperparameters.ts";
import { writeReadmeSection } from "./common.ts";
import {
  benchRun,
  f1,
  median,
  type RunResult,
  requireSb3,
  runsTable,
  type Sb3Result,
  sb3Run,
} from "./ppo-runs.ts";

interface Goal {
  env: string;
  preset: PresetName;
  steps: number;
  /** The evaluation to reach (median over seeds). */
  goal: number;
  /** rl-zoo benchmark.md's figure (shared/reference/PPO_RESULTS.md). */
  zoo: string;
}

const GOALS: Goal[] = [
  { env: "CartPole-v1", preset: "zoo", steps: 100_000, goal: 500, zoo: "500.0 ± 0.0" },
  { env: "Acrobot-v1", preset: "zoo", steps: 1_000_000, goal: -90, zoo: "−73.5 ± 18.2" },
  { env: "MountainCar-v0", preset: "zoo", steps: 1_000_000, goal: -130, zoo: "−110.4 ± 19.5" },
  { env: "MountainCarContinuous-v0", preset: "zoo", steps: 20_000, goal: 80, zoo: "88.3 ± 2.6" },
  { env: "Pendulum-v1", preset: "zoo", steps: 100_000, goal: -250, zoo: "−172.2 ± 104.2" },
];

const { values } = parseArgs({
  options: {
    envs: { type: "string", default: GOALS.map((g) => g.env).join(",") },
    seeds: { type: "string", default: "3" },
    sb3: { type: "string" },
    cleanrl: { type: "boolean", default: false },
    "onnx-python": { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "no-readme": { type: "boolean", default: false },
  },
});

function goalsTable(results: RunResult[], sb3: Sb3Result[]): string {
  const head =
    "| env | preset | steps | goal | rl-zoo | median eval | met | seeds ≥ goal | median wall s | vs SB3 wall (side by side) |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|";
  const rows: string[] = [];
  for (const g of GOALS) {
    const rs = results.filter((r) => r.env === g.env && r.preset === g.preset);
    if (rs.length === 0) continue;
    const m = median(rs.map((r) => r.evalMean));
    const s = sb3.filter((x) => x.env === g.env);
    const ratio =
      s.length > 0
        ? `${(median(rs.filter((r) => s.some((x) => x.seed === r.seed)).map((r) => r.wallSeconds)) / median(s.map((x) => x.wallSeconds))).toFixed(2)}× (SB3 median ${f1(median(s.map((x) => x.wallSeconds)))} s, eval ${f1(median(s.map((x) => x.evalMean)))})`
        : "—";
    rows.push(
      `| ${g.env} | ${g.preset} | ${g.steps} | ≥ ${g.goal} | ${g.zoo} | ${f1(m)} | ${m >= g.goal ? "yes" : "**no**"} | ` +
        `${rs.filter((r) => r.evalMean >= g.goal).length}/${rs.length} | ${f1(median(rs.map((r) => r.wallSeconds)))} | ${ratio} |`,
    );
  }
  return [head, sep, ...rows].join("\n");
}

const seeds = Array.from({ length: values.quick ? 1 : Number(values.seeds) }, (_, i) => i + 1);
const envs = new Set(values.envs.split(","));
const sb3Envs = new Set(values.sb3 ? values.sb3.split(",") : []);
if (sb3Envs.size > 0) requireSb3();
const results: RunResult[] = [];
const sb3: Sb3Result[] = [];
for (const g of GOALS.filter((x) => envs.has(x.env))) {
  for (const seed of seeds) {
    // Side by side: the SB3 run of the same seed right after ours, on the same machine and load.
    const r = await benchRun(g.env, g.preset, seed, { onnxPython: values["onnx-python"] });
    results.push(r);
    process.stderr.write(
      `${g.env} ${g.preset} seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}` +
        `${r.pythonEval ? `, ONNX in Gymnasium ${f1(r.pythonEval.mean)} (max diff ${r.pythonEval.maxDiff.toPrecision(2)})` : ""}\n`,
    );
    if (sb3Envs.has(g.env)) {
      const s = await sb3Run(g.env, g.preset, seed, g.steps);
      sb3.push(s);
      process.stderr.write(`  SB3 seed ${seed}: ${f1(s.wallSeconds)} s, eval ${f1(s.evalMean)}\n`);
    }
  }
}
if (values.cleanrl) {
  for (const seed of seeds) {
    const r = await benchRun("CartPole-v1", "cleanrl", seed, {
      totalTimesteps: values.quick ? 100_000 : 500_000,
    });
    results.push(r);
    process.stderr.write(
      `CartPole-v1 cleanrl seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}\n`,
    );
  }
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}`;
const command = `npm run bench:ppo${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
const section = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`${command}\` (fused kernel, WebAssembly SIMD GEMM).`,
  "",
  goalsTable(results, sb3),
  "",
  runsTable(results, sb3),
].join("\n");
process.stdout.write(`${section}\n`);
if (!values["no-readme"]) await writeReadmeSection("ppo-results", "PPO (bench:ppo)", section);
