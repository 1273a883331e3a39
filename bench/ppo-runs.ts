/**
 * One benchmarked PPO run and its Stable-Baselines3 counterpart, shared by bench:ppo (classic control)
 * and bench:mujoco: train a preset in one process, evaluate the deterministic policy on 10 episodes
 * seeded as Gymnasium seeds them, optionally check the ONNX export in Python Gymnasium, and run SB3
 * (scripts/reference/sb3_ppo.py in .venv-ref, one PyTorch thread) with the same settings.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type PresetName, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";

const run = promisify(execFile);

export const PYTHON = ".venv-ref/bin/python";

export interface RunResult {
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

export interface Sb3Result {
  env: string;
  preset: PresetName;
  seed: number;
  steps: number;
  wallSeconds: number;
  sps: number;
  evalMean: number;
}

export interface BenchRunOptions {
  /** Overrides the preset's budget (cleanrl's 1M, or a shorter look). */
  totalTimesteps?: number;
  /** Export the final policy as ONNX and evaluate it in Python Gymnasium on the same seeds. */
  onnxPython?: boolean;
  /** Called after each iteration with the env steps so far (progress on stderr). */
  onIteration?: (globalStep: number) => void;
}

/** A run of the preset as it stands (zoo: SB3's rounding up to whole rollouts) unless the budget is given. */
export async function benchRun(
  env: string,
  preset: PresetName,
  seed: number,
  options: BenchRunOptions = {},
): Promise<RunResult> {
  const overrides =
    options.totalTimesteps === undefined ? { seed } : { seed, totalTimesteps: options.totalTimesteps };
  const config = resolveHyperparameters(env, preset, overrides);
  const trainer = await PPOTrainer.create({ envId: env, config });
  const time = { env: 0, inference: 0, gae: 0, update: 0 };
  const started = performance.now();
  await trainer.train((m) => {
    time.env += m["time/env"];
    time.inference += m["time/inference"];
    time.gae += m["time/gae"];
    time.update += m["time/update"];
    options.onIteration?.(trainer.learner.globalStep);
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const evalSeed = seed + 1_000_000;
  const evaluation = trainer.evaluate(10, evalSeed);
  const result: RunResult = {
    env,
    preset,
    seed,
    steps: trainer.learner.globalStep,
    wallSeconds,
    sps: trainer.learner.globalStep / wallSeconds,
    evalMean: evaluation.mean,
    evalStd: evaluation.std,
    time,
  };
  if (options.onnxPython) {
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

/** Fails early, before any training, when SB3 was asked for and the reference venv is missing. */
export function requireSb3(): void {
  if (!existsSync(PYTHON)) {
    throw new Error(`--sb3 needs ${PYTHON} with stable-baselines3 (see scripts/reference/sb3_ppo.py)`);
  }
}

/** SB3 PPO with the same preset (zoo: the zoo's own entry; cleanrl: CleanRL's settings in SB3 terms). */
export async function sb3Run(
  env: string,
  preset: PresetName,
  seed: number,
  steps: number,
): Promise<Sb3Result> {
  const { stdout } = await run(
    PYTHON,
    [
      "scripts/reference/sb3_ppo.py",
      "--env",
      env,
      "--preset",
      preset,
      "--seed",
      String(seed),
      "--steps",
      String(steps),
    ],
    { env: { ...process.env, OMP_NUM_THREADS: "1" }, maxBuffer: 1 << 24 },
  );
  return { preset, ...(JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Omit<Sb3Result, "preset">) };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(1);

/** Per-run rows: wall time, throughput with training, evaluation and where the time went. */
export function runsTable(results: RunResult[], sb3: Sb3Result[]): string {
  const head =
    "| env | preset | seed | steps | wall s | steps/s | eval (10 ep.) | ONNX in Gymnasium | env / inference / GAE / update s | SB3 wall s, steps/s (eval) |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|";
  const rows = results.map((r) => {
    const s = sb3.find((x) => x.env === r.env && x.seed === r.seed && x.preset === r.preset);
    const onnx = r.pythonEval
      ? `${f1(r.pythonEval.mean)} (max diff ${r.pythonEval.maxDiff.toPrecision(2)})`
      : "—";
    return (
      `| ${r.env} | ${r.preset} | ${r.seed} | ${r.steps} | ${f1(r.wallSeconds)} | ${Math.round(r.sps)} | ` +
      `${f1(r.evalMean)} ± ${f1(r.evalStd)} | ${onnx} | ` +
      `${r.time.env.toFixed(2)} / ${r.time.inference.toFixed(2)} / ${r.time.gae.toFixed(2)} / ${r.time.update.toFixed(2)} | ` +
      `${s ? `${f1(s.wallSeconds)}, ${Math.round(s.sps)} (${f1(s.evalMean)})` : "—"} |`
    );
  });
  return [head, sep, ...rows].join("\n");
}
