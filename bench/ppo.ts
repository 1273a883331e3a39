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
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { type PresetName, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";
import { writeReadmeSection } from "./common.ts";

const run = promisify(execFile);

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

interface RunResult {
  env: string;
  preset: PresetName;
  seed: number;
  steps: number;
  wallSeconds: number;
  sps: number;
  evalMean: number;
  evalStd: number;
  time: { env: number; inference: number; gae: number; update: number };
  /** The ONNX export's returns in Python Gymnasium, when asked. */
  pythonEval?: { mean: number; maxDiff: number };
}

interface Sb3Result {
  env: string;
  seed: number;
  wallSeconds: number;
  sps: number;
  evalMean: number;
}

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

const PYTHON = ".venv-ref/bin/python";

/** A run of the preset as it stands (zoo: SB3's rounding up to whole rollouts); `totalTimesteps` for cleanrl. */
async function benchRun(
  env: string,
  preset: PresetName,
  seed: number,
  totalTimesteps?: number,
): Promise<RunResult> {
  const overrides = totalTimesteps === undefined ? { seed } : { seed, totalTimesteps };
  const config = resolveHyperparameters(env, preset, overrides);
  const trainer = await PPOTrainer.create({ envId: env, config });
  const time = { env: 0, inference: 0, gae: 0, update: 0 };
  const started = performance.now();
  await trainer.train((m) => {
    time.env += m["time/env"];
    time.inference += m["time/inference"];
    time.gae += m["time/gae"];
    time.update += m["time/update"];
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const evalSeed = seed + 1_000_000;
  const evaluation = trainer.evaluate(10, evalSeed);
  const result: RunResult = {
    env,
    preset,
    seed,
    steps: trainer.globalStep,
    wallSeconds,
    sps: trainer.globalStep / wallSeconds,
    evalMean: evaluation.mean,
    evalStd: evaluation.std,
    time,
  };
  if (values["onnx-python"]) {
    const python = await evaluateOnnxInPython(trainer, env, evalSeed);
    // Discrete policies give identical returns; Box ones can differ in the last bits of onnxruntime's
    // Gemm, which a long episode may amplify, so the largest per-episode difference is reported.
    result.pythonEval = {
      mean: python.mean,
      maxDiff: Math.max(...python.returns.map((r, i) => Math.abs(r - evaluation.returns[i]))),
    };
  }
  return result;
}

/** Exports the trainer's policy as ONNX and evaluates it in Python Gymnasium on the same seeds. */
async function evaluateOnnxInPython(
  trainer: PPOTrainer,
  env: string,
  evalSeed: number,
): Promise<{ mean: number; returns: number[] }> {
  const { exportOnnx } = await import("../rl/export/onnx.ts");
  const dir = await mkdtemp(join(tmpdir(), "proxima-onnx-"));
  try {
    const file = join(dir, "policy.onnx");
    await writeFile(file, exportOnnx(trainer.getState()));
    const { stdout } = await run(PYTHON, [
      "scripts/reference/eval_onnx.py",
      "--model",
      file,
      "--env",
      env,
      "--episodes",
      "10",
      "--seed",
      String(evalSeed),
      "--json",
    ]);
    const out = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { returns: number[] };
    const mean = out.returns.reduce((a, b) => a + b, 0) / out.returns.length;
    return { mean, returns: out.returns };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function sb3Run(env: string, seed: number, steps: number): Promise<Sb3Result> {
  const { stdout } = await run(
    PYTHON,
    ["scripts/reference/sb3_ppo.py", "--env", env, "--seed", String(seed), "--steps", String(steps)],
    { env: { ...process.env, OMP_NUM_THREADS: "1" }, maxBuffer: 1 << 24 },
  );
  return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Sb3Result;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(1);

function runsTable(results: RunResult[], sb3: Sb3Result[]): string {
  const head =
    "| env | preset | seed | steps | wall s | steps/s | eval (10 ep.) | ONNX in Gymnasium | env / inference / GAE / update s | SB3 wall s (eval) |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|";
  const rows = results.map((r) => {
    const s = sb3.find((x) => x.env === r.env && x.seed === r.seed && r.preset === "zoo");
    const onnx = r.pythonEval
      ? `${f1(r.pythonEval.mean)} (max diff ${r.pythonEval.maxDiff.toPrecision(2)})`
      : "—";
    return (
      `| ${r.env} | ${r.preset} | ${r.seed} | ${r.steps} | ${f1(r.wallSeconds)} | ${Math.round(r.sps)} | ` +
      `${f1(r.evalMean)} ± ${f1(r.evalStd)} | ${onnx} | ` +
      `${r.time.env.toFixed(2)} / ${r.time.inference.toFixed(2)} / ${r.time.gae.toFixed(2)} / ${r.time.update.toFixed(2)} | ` +
      `${s ? `${f1(s.wallSeconds)} (${f1(s.evalMean)})` : "—"} |`
    );
  });
  return [head, sep, ...rows].join("\n");
}

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
if (sb3Envs.size > 0 && !existsSync(PYTHON)) {
  throw new Error(`--sb3 needs ${PYTHON} with stable-baselines3 (see scripts/reference/sb3_ppo.py)`);
}
const results: RunResult[] = [];
const sb3: Sb3Result[] = [];
for (const g of GOALS.filter((x) => envs.has(x.env))) {
  for (const seed of seeds) {
    // Side by side: the SB3 run of the same seed right after ours, on the same machine and load.
    const r = await benchRun(g.env, g.preset, seed);
    results.push(r);
    process.stderr.write(
      `${g.env} ${g.preset} seed ${seed}: ${f1(r.wallSeconds)} s, ${Math.round(r.sps)} steps/s, eval ${f1(r.evalMean)}` +
        `${r.pythonEval ? `, ONNX in Gymnasium ${f1(r.pythonEval.mean)} (max diff ${r.pythonEval.maxDiff.toPrecision(2)})` : ""}\n`,
    );
    if (sb3Envs.has(g.env)) {
      const s = await sb3Run(g.env, seed, g.steps);
      sb3.push(s);
      process.stderr.write(`  SB3 seed ${seed}: ${f1(s.wallSeconds)} s, eval ${f1(s.evalMean)}\n`);
    }
  }
}
if (values.cleanrl) {
  for (const seed of seeds) {
    const r = await benchRun("CartPole-v1", "cleanrl", seed, values.quick ? 100_000 : 500_000);
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
