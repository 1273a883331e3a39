/**
 * `proxima export --checkpoint DIR|FILE --format onnx --out FILE.onnx [--env-code FILE.js] [--json]`:
 * writes a checkpoint's deterministic policy (argmax / clipped mean, observation normalisation folded
 * in) as an ONNX model that takes raw observations (rl/export/onnx.ts). A run on an environment
 * defined by code (`custom:<id>`) needs that code, given by `--env-code`, for its declared spaces: it
 * is run once in a local sandbox process to read them, as `proxima eval --env-code` runs it.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { EnvSpaces } from "../rl/core/types.ts";
import { codeEnvSpaces, isCodeEnvId } from "../rl/envs/code-env.ts";
import { exportPolicyOnnx } from "../rl/export/onnx.ts";
import { readCheckpoint } from "../rl/ppo/checkpoint.ts";
import { type CommandSpec, type OptionTable, parseCommand } from "./command.ts";

const FORMATS = ["onnx"] as const;

/** The spaces a script declares, read in a sandbox process like the workers'. */
async function declaredSpaces(envId: string, file: string): Promise<EnvSpaces> {
  const code = await readFile(file, "utf8");
  const { CodeVectorEnv } = await import("../sandbox/code-vector-env.ts");
  const env = await CodeVectorEnv.open(envId, { code }, 1);
  try {
    return codeEnvSpaces(env.spec);
  } finally {
    await env.close();
  }
}

export const EXPORT = {
  name: "proxima export",
  summary: "Writes a checkpoint's deterministic policy as an ONNX model that takes raw observations.",
  options: {
    checkpoint: {
      type: "string",
      value: "DIR|FILE",
      description: "a checkpoint folder (proxima train's) or file (downloaded from a run)",
    },
    format: { type: "string", default: "onnx", value: FORMATS.join("|"), description: "the model's format" },
    out: { type: "string", value: "FILE", description: "where to write the model" },
    "env-code": {
      type: "string",
      value: "FILE.js",
      description: "the script of an environment defined by code, for its spaces (custom:<id> runs need it)",
    },
    json: { type: "boolean", default: false, description: "print a JSON summary" },
  },
} satisfies CommandSpec<OptionTable>;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(EXPORT, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.checkpoint) throw new Error("--checkpoint DIR|FILE is required");
  if (!values.out) throw new Error("--out FILE is required");
  if (!(FORMATS as readonly string[]).includes(values.format))
    throw new Error(`--format must be one of ${FORMATS.join(", ")}, got "${values.format}"`);
  const state = await readCheckpoint(values.checkpoint);
  if (isCodeEnvId(state.envId) && !values["env-code"])
    throw new Error(
      `${state.envId} is an environment defined by code: pass its script with --env-code FILE.js for its spaces`,
    );
  const spaces = values["env-code"] ? await declaredSpaces(state.envId, values["env-code"]) : undefined;
  const exported = exportPolicyOnnx(state, spaces ? { spaces } : {});
  // Written beside and renamed, so that a reader never sees half a model.
  const partial = `${values.out}.partial`;
  await writeFile(partial, exported.bytes);
  await rename(partial, values.out);
  const summary = {
    env: state.envId,
    checkpoint: values.checkpoint,
    out: values.out,
    format: values.format,
    bytes: exported.bytes.length,
    globalStep: state.counters.globalStep,
    action: exported.action,
    observationNormalization: exported.normalized,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const action = exported.action === "discrete" ? "argmax" : "clipped mean";
    const norm = exported.normalized ? ", observation normalisation folded in" : "";
    process.stdout.write(
      `${values.out}: ${state.envId} policy at step ${summary.globalStep} as ONNX (input obs, output action: ${action}${norm}), ${summary.bytes} bytes\n`,
    );
  }
  return 0;
}
