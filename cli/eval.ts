/**
 * `proxima eval --checkpoint DIR|FILE [--episodes 20] [--seed N] [--env-code FILE.js] [--json]`:
 * evaluates a checkpoint's deterministic policy (argmax / clipped mean) on fresh episodes. FILE is the
 * single-blob form (`encodeCheckpoint`), as `GET /api/v1/runs/:id/checkpoint` serves it. A run on an
 * environment defined by code (`custom:<id>`) is evaluated on that code, given by `--env-code` and run
 * in a local sandbox process, as the workers run it.
 */
import { readFile } from "node:fs/promises";
import { defaultEvaluationSeed, evaluateTrainedPolicy } from "../actors/evaluation.ts";
import { isCodeEnvId } from "../rl/envs/code-env.ts";
import { readCheckpoint } from "../rl/ppo/checkpoint.ts";
import { type CommandSpec, type OptionTable, parseCommand } from "./command.ts";
import { parseIntFlag } from "./flags.ts";

export const EVAL = {
  name: "proxima eval",
  summary: "Evaluates a checkpoint's deterministic policy (argmax / clipped mean) on fresh episodes.",
  options: {
    checkpoint: {
      type: "string",
      value: "DIR|FILE",
      description: "a checkpoint folder (proxima train's) or file (downloaded from a run)",
    },
    episodes: { type: "string", default: "20", value: "N", description: "episodes to play" },
    seed: {
      type: "string",
      value: "N",
      description:
        "seed of the first episode; default: the run's seed + 1000000, as the platform's evaluation",
    },
    "env-code": {
      type: "string",
      value: "FILE.js",
      description: "the script of an environment defined by code (custom:<id> runs need it)",
    },
    json: { type: "boolean", default: false, description: "print the result as one JSON line" },
  },
} satisfies CommandSpec<OptionTable>;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(EVAL, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.checkpoint) throw new Error("--checkpoint DIR|FILE is required");
  const episodes = parseIntFlag("--episodes", values.episodes, 1);
  const state = await readCheckpoint(values.checkpoint);
  const seed =
    values.seed === undefined ? defaultEvaluationSeed(state.config) : parseIntFlag("--seed", values.seed, 0);
  if (isCodeEnvId(state.envId) && !values["env-code"])
    throw new Error(
      `${state.envId} is an environment defined by code: pass its script with --env-code FILE.js`,
    );
  const codeEnv = values["env-code"] ? { code: await readFile(values["env-code"], "utf8") } : undefined;
  const result = await evaluateTrainedPolicy(state.envId, state.config, state.params, {
    episodes,
    seed,
    // Frozen statistics of the training; an older checkpoint has none (raw observations, as before).
    normalization: state.normalization ?? null,
    ...(codeEnv ? { codeEnv } : {}),
  });
  const summary = {
    env: state.envId,
    checkpoint: values.checkpoint,
    globalStep: state.counters.globalStep,
    ...result,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `${state.envId} (checkpoint at step ${summary.globalStep}): ${result.returnMean.toFixed(1)} ± ${result.returnStd.toFixed(1)} over ${episodes} episodes\n`,
    );
  }
  return 0;
}
