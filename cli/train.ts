/**
 * `proxima train --env ID [--preset zoo|cleanrl] [--seed N] [--total-steps N] [--backend NAME]
 *   [--engine fused|tfjs] [--checkpoint-dir DIR] [--checkpoint-every K] [--eval-episodes N]
 *   [--set key=value ...] [--json]`, or `proxima train --env-code FILE.js [...]`
 *
 * Trains PPO locally, evaluates the deterministic policy on fresh episodes, writes a checkpoint
 * (into --checkpoint-dir, by default a new runs/<env>-<time>/, named at the end).
 * Progress goes to stderr (a bar on a TTY, plain lines otherwise); with --json the last line of
 * stdout is one JSON object summarising the run. With `--env-code`, the env is a learner's own
 * (the custom-environment exercise's contract), stepped in a local sandbox process as the workers
 * step it; its env id is `custom:local` unless `--env custom:<id>` names it.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { type CodeEnvSpec, isCodeEnvId } from "../rl/envs/code-env.ts";
import { isEnvId, unknownEnvMessage } from "../rl/envs/registry.ts";
import { saveCheckpoint } from "../rl/ppo/checkpoint.ts";
import { type EvaluationResult, evaluatePolicyOn } from "../rl/ppo/evaluation.ts";
import { PRESETS, type PresetName, presetsFor, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import type { EngineName, IterationMetrics } from "../rl/ppo/ppo-learner.ts";
import { PPOTrainer } from "../rl/ppo/trainer.ts";
import { CodeVectorEnv } from "../sandbox/code-vector-env.ts";
import { type CommandSpec, type OptionTable, parseCommand } from "./command.ts";
import { parseIntFlag } from "./flags.ts";

export interface TrainSummary {
  env: string;
  preset: PresetName;
  seed: number;
  totalSteps: number;
  iterations: number;
  wallSeconds: number;
  sps: number;
  evalReturnMean: number;
  evalReturnStd: number;
  evalEpisodes: number;
  backend: string;
  engine: string;
  /** Where the checkpoint is: --checkpoint-dir, or runs/<env>-<time>/. */
  checkpointDir: string;
}

/** `--set key=value` overrides: the value is parsed as JSON when it can be (numbers, booleans, null, arrays). */
function parseOverrides(items: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`--set expects key=value, got "${item}"`);
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {}
    out[item.slice(0, eq)] = value;
  }
  return out;
}

function progress(totalIterations: number): (m: IterationMetrics) => void {
  const tty = process.stderr.isTTY === true;
  const every = Math.max(1, Math.round(totalIterations / 20));
  let lastReturn: number | null = null;
  return (m) => {
    if (m["charts/episodic_return"] !== null) lastReturn = m["charts/episodic_return"];
    const ret = lastReturn === null ? "-" : lastReturn.toFixed(1);
    const text = `step ${m.global_step} return ${ret} SPS ${m["charts/SPS"]}`;
    if (tty) {
      const width = 30;
      const filled = Math.round((m.iteration / totalIterations) * width);
      const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
      process.stderr.write(
        `\r${bar} ${((100 * m.iteration) / totalIterations).toFixed(0).padStart(3)}% ${text}   `,
      );
      if (m.iteration === totalIterations) process.stderr.write("\n");
    } else if (m.iteration % every === 0 || m.iteration === totalIterations) {
      process.stderr.write(`iteration ${m.iteration}/${totalIterations} ${text}\n`);
    }
  };
}

/** Where a plain `proxima train` keeps its checkpoint, relative to the working directory. */
export const DEFAULT_CHECKPOINT_ROOT = "runs";

/**
 * `runs/<env>-<UTC time>/`, e.g. runs/CartPole-v1-20261206-195400 (an env id's `:` becomes `-`, for
 * filesystems that refuse it). The folder is created here, exclusively: a second train started in the
 * same second gets `-2`, never the first one's folder.
 */
export async function defaultCheckpointDir(envId: string, now = new Date()): Promise<string> {
  const time = now
    .toISOString()
    .replace(/\.\d+Z$/, "")
    .replaceAll("-", "")
    .replace("T", "-")
    .replaceAll(":", "");
  const base = path.join(DEFAULT_CHECKPOINT_ROOT, `${envId.replace(/[^A-Za-z0-9._-]/g, "-")}-${time}`);
  await mkdir(DEFAULT_CHECKPOINT_ROOT, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

export const TRAIN = {
  name: "proxima train",
  summary:
    "Trains PPO locally, evaluates the deterministic policy on fresh episodes and keeps the checkpoint.",
  options: {
    env: { type: "string", value: "ID", description: "the environment (see `proxima envs`)" },
    preset: {
      type: "string",
      value: "zoo|cleanrl",
      description: "hyperparameter preset; default: the env's rl-zoo preset where one exists, else cleanrl",
    },
    seed: { type: "string", default: "1", value: "N", description: "seed of the envs and the networks" },
    "total-steps": {
      type: "string",
      value: "N",
      description: "env steps to train for; default: the preset's",
    },
    backend: {
      type: "string",
      value: "NAME",
      description: "TensorFlow.js backend (wasm, cpu, tensorflow, …)",
    },
    engine: { type: "string", value: "fused|tfjs", description: "the learner's engine" },
    "checkpoint-dir": {
      type: "string",
      value: "DIR",
      description: `where the checkpoint is kept; default: ${DEFAULT_CHECKPOINT_ROOT}/<env>-<time>/`,
    },
    "checkpoint-every": { type: "string", default: "50", value: "K", description: "save every K iterations" },
    "eval-episodes": {
      type: "string",
      default: "10",
      value: "N",
      description: "episodes of the final evaluation",
    },
    set: {
      type: "string",
      multiple: true,
      default: [],
      value: "KEY=VALUE",
      description: "override one hyperparameter (the value is JSON when it parses)",
    },
    "env-code": {
      type: "string",
      value: "FILE.js",
      description: "train on an environment defined by code, run in a local sandbox (env id custom:local)",
    },
    json: { type: "boolean", default: false, description: "print a JSON summary as the last line of stdout" },
  },
  notes: "Progress goes to stderr. `proxima eval --checkpoint DIR` evaluates the kept checkpoint again.",
} satisfies CommandSpec<OptionTable>;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(TRAIN, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  const codeFile = values["env-code"];
  const envId = values.env ?? (codeFile ? "custom:local" : undefined);
  if (!envId) throw new Error("--env is required (see `proxima envs`), or --env-code FILE.js");
  if (codeFile && !isCodeEnvId(envId))
    throw new Error(`with --env-code, --env must be custom:<name>, got "${envId}"`);
  if (!codeFile && !isEnvId(envId)) throw new Error(unknownEnvMessage(envId));
  const code = codeFile ? await readFile(codeFile, "utf8") : null;
  // What the code declares picks CleanRL's discrete or continuous defaults; zoo has no entry for it.
  let spec: CodeEnvSpec | undefined;
  if (code) {
    const probe = await CodeVectorEnv.open(envId, { code }, 1);
    spec = probe.spec;
    await probe.close();
  }
  // Default: the env's rl-zoo preset where one exists, else CleanRL's defaults.
  const preset = (values.preset ?? (presetsFor(envId).includes("zoo") ? "zoo" : "cleanrl")) as PresetName;
  if (!(PRESETS as readonly string[]).includes(preset)) {
    throw new Error(`--preset must be one of ${PRESETS.join(", ")}, got "${values.preset}"`);
  }
  if (values.engine !== undefined && values.engine !== "fused" && values.engine !== "tfjs") {
    throw new Error(`--engine must be fused or tfjs, got "${values.engine}"`);
  }
  const seed = parseIntFlag("--seed", values.seed, 0);
  const checkpointEvery = parseIntFlag("--checkpoint-every", values["checkpoint-every"], 1);
  const evalEpisodes = parseIntFlag("--eval-episodes", values["eval-episodes"], 1);
  const overrides: Record<string, unknown> = { ...parseOverrides(values.set), seed };
  if (values["total-steps"] !== undefined) {
    overrides.totalTimesteps = parseIntFlag("--total-steps", values["total-steps"], 1);
  }
  const config = resolveHyperparameters(envId, preset, overrides, spec?.actionSpace.kind);

  const opened: CodeVectorEnv[] = [];
  const codeEnv = async (numEnvs: number) => {
    const env = await CodeVectorEnv.open(envId, { code: code!, spec }, numEnvs);
    opened.push(env);
    return env;
  };
  try {
    return await trainAndReport(values, {
      envId,
      preset,
      seed,
      config,
      checkpointEvery,
      evalEpisodes,
      codeEnv: code ? codeEnv : null,
    });
  } finally {
    await Promise.all(opened.map((env) => env.close()));
  }
}

async function trainAndReport(
  values: { backend?: string; engine?: string; "checkpoint-dir"?: string; json?: boolean },
  o: {
    envId: string;
    preset: PresetName;
    seed: number;
    config: ReturnType<typeof resolveHyperparameters>;
    checkpointEvery: number;
    evalEpisodes: number;
    /** Opens the env defined by code with this many sub-envs (null: a registered env). */
    codeEnv: ((numEnvs: number) => Promise<CodeVectorEnv>) | null;
  },
): Promise<number> {
  const { envId, preset, seed, config, checkpointEvery, evalEpisodes } = o;
  const trainer = await PPOTrainer.create({
    envId,
    config,
    backend: values.backend,
    engine: values.engine as EngineName | undefined,
    ...(o.codeEnv ? { env: await o.codeEnv(config.numEnvs) } : {}),
  });
  const checkpointDir = values["checkpoint-dir"] ?? (await defaultCheckpointDir(envId));
  const report = progress(trainer.learner.numIterations);
  const started = performance.now();
  await trainer.train(async (m) => {
    report(m);
    if (m.iteration % checkpointEvery === 0 && !trainer.done) {
      await saveCheckpoint(checkpointDir, trainer.getState());
    }
  });
  const wallSeconds = (performance.now() - started) / 1000;
  await saveCheckpoint(checkpointDir, trainer.getState());
  const evaluation: EvaluationResult = o.codeEnv
    ? await evaluatePolicyOn(
        await o.codeEnv(evalEpisodes),
        trainer.learner.spec,
        trainer.learner.params,
        config.seed + 1_000_000,
        undefined,
        trainer.learner.normalizationState(),
      )
    : trainer.evaluate(evalEpisodes);
  trainer.dispose();
  const summary: TrainSummary = {
    env: envId,
    preset,
    seed,
    totalSteps: trainer.learner.globalStep,
    iterations: trainer.learner.iteration,
    wallSeconds: Number(wallSeconds.toFixed(3)),
    sps: Math.round(trainer.learner.globalStep / wallSeconds),
    evalReturnMean: evaluation.mean,
    evalReturnStd: evaluation.std,
    evalEpisodes,
    backend: trainer.learner.backend,
    engine: trainer.learner.engine.name,
    checkpointDir,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(
      `${envId}: ${summary.totalSteps} steps in ${summary.wallSeconds.toFixed(1)} s (${summary.sps} steps/s); ` +
        `evaluation over ${evalEpisodes} episodes: ${evaluation.mean.toFixed(1)} ± ${evaluation.std.toFixed(1)}` +
        `; checkpoint in ${checkpointDir} (proxima eval --checkpoint ${checkpointDir})\n`,
    );
  }
  return 0;
}
