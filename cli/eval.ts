/**
 * `proxima eval --checkpoint DIR|FILE [--episodes 20] [--seed N] [--env-code FILE.js] [--json]`:
 * evaluates a checkpoint's deterministic policy (argmax / clipped mean) on fresh episodes. FILE is the
 * single-blob form (`encodeCheckpoint`), as `GET /api/v1/runs/:id/checkpoint` serves it. A run on an
 * environment defined by code (`custom:<id>`) is evaluated on that code, given by `--env-code` and run
 * in a local sandbox process, as the workers run it.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isCodeEnvId } from "../rl/envs/code-env.ts";
import { makeVectorEnv } from "../rl/envs/vector.ts";
import { readCheckpoint } from "../rl/ppo/checkpoint.ts";
import {
  type EvaluationResult,
  evaluatePolicy,
  evaluatePolicyOn,
  networkSpecOf,
  spacesOf,
} from "../rl/ppo/trainer.ts";
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
    values.seed === undefined ? state.config.seed + 1_000_000 : parseIntFlag("--seed", values.seed, 0);
  const { wasmGemm } = await import("../rl/nn/gemm-wasm.ts");
  const gemm = wasmGemm() ?? undefined;
  let result: EvaluationResult;
  if (isCodeEnvId(state.envId)) {
    if (!values["env-code"])
      throw new Error(
        `${state.envId} is an environment defined by code: pass its script with --env-code FILE.js`,
      );
    const code = await readFile(values["env-code"], "utf8");
    const { CodeVectorEnv } = await import("../sandbox/code-vector-env.ts");
    const env = await CodeVectorEnv.open(state.envId, { code }, episodes);
    try {
      const spec = networkSpecOf(spacesOf(env), state.config);
      result = await evaluatePolicyOn(env, spec, state.params, seed, gemm);
    } finally {
      await env.close();
    }
  } else {
    const spec = networkSpecOf(spacesOf(makeVectorEnv(state.envId, 1)), state.config);
    result = evaluatePolicy(state.envId, spec, state.params, episodes, seed, gemm);
  }
  const summary = {
    env: state.envId,
    checkpoint: values.checkpoint,
    globalStep: state.counters.globalStep,
    episodes,
    seed,
    returnMean: result.mean,
    returnStd: result.std,
    lengthMean: result.lengths.reduce((a, b) => a + b, 0) / episodes,
    returns: result.returns,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `${state.envId} (checkpoint at step ${summary.globalStep}): ${result.mean.toFixed(1)} ± ${result.std.toFixed(1)} over ${episodes} episodes\n`,
    );
  }
  return 0;
}
