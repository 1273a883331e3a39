/**
 * `proxima eval --checkpoint DIR|FILE [--episodes 20] [--seed N] [--env-code FILE.js] [--json]`:
 * evaluates a checkpoint's deterministic policy (argmax / clipped mean) on fresh episodes. FILE is the
 * single-blob form (`encodeCheckpoint`), as `GET /api/v1/runs/:id/checkpoint` serves it. A run on an
 * environment defined by code (`custom:<id>`) is evaluated on that code, given by `--env-code` and run
 * in a local sandbox process, as the workers run it.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { defaultEvaluationSeed, evaluateTrainedPolicy } from "../actors/evaluation.ts";
import { isCodeEnvId } from "../rl/envs/code-env.ts";
import { readCheckpoint } from "../rl/ppo/checkpoint.ts";
import { parseIntFlag } from "./flags.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: "string" },
      episodes: { type: "string", default: "20" },
      seed: { type: "string" },
      "env-code": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
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
