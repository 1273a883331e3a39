import type { RunResources } from "../../contracts/runs.ts";
import { type FieldProblem, ValidationFailedError } from "../../lib/errors.ts";
import type { CodeEnvSpec } from "../../rl/envs/code-env.ts";
import { isEnvId, unknownEnvMessage } from "../../rl/envs/registry.ts";
import {
  HyperparameterError,
  type Hyperparameters,
  type PresetName,
  resolveHyperparameters,
} from "../../rl/ppo/hyperparameters.ts";

/** What of a run request decides its configuration (CreateRunInput's fields, a sweep trial's too). */
export interface RunSpecInput {
  env: string;
  preset?: PresetName | undefined;
  hyperparameters?: Record<string, unknown> | undefined;
  seed?: number | undefined;
  totalSteps: number;
  resources?:
    | { runners?: number | undefined; envsPerRunner?: number | undefined; gpu?: boolean | undefined }
    | undefined;
}

/** Request fields by the names the caller used: rl's `totalTimesteps` is the request's `totalSteps`. */
function requestField(field: string, seedGiven: boolean): string {
  if (field === "totalTimesteps") return "totalSteps";
  if (field === "seed" && seedGiven) return "seed";
  if (field === "preset") return "preset";
  return `hyperparameters.${field}`;
}

export interface ResolvedRun {
  config: Hyperparameters;
  resources: RunResources;
}

/**
 * The full configuration of a new run: the preset, the overrides, then the request's own fields
 * (totalSteps, seed, and numEnvs from the resources) on top, validated by rl's one schema. Every
 * problem names the request field it came from. `codeEnv`: the spec of the environment defined by
 * code that `input.env` names (checked by the caller), whose action space picks CleanRL's defaults.
 */
export function resolveRun(input: RunSpecInput, codeEnv?: CodeEnvSpec): ResolvedRun {
  if (!codeEnv && !isEnvId(input.env)) {
    throw new ValidationFailedError("the run is invalid", [
      { field: "env", message: unknownEnvMessage(input.env) },
    ]);
  }
  const overrides: Record<string, unknown> = { ...input.hyperparameters, totalTimesteps: input.totalSteps };
  if (input.seed !== undefined) overrides["seed"] = input.seed;
  const runners = input.resources?.runners ?? 1;
  const problems: FieldProblem[] = [];
  if (input.resources?.envsPerRunner !== undefined) {
    const numEnvs = runners * input.resources.envsPerRunner;
    if (overrides["numEnvs"] !== undefined && overrides["numEnvs"] !== numEnvs) {
      problems.push({
        field: "resources.envsPerRunner",
        message: `runners × envsPerRunner must equal hyperparameters.numEnvs`,
      });
    }
    overrides["numEnvs"] = numEnvs;
  }
  let config: Hyperparameters;
  try {
    config = resolveHyperparameters(
      input.env,
      (input.preset ?? "cleanrl") as PresetName,
      overrides,
      codeEnv?.actionSpace.kind,
    );
  } catch (err) {
    if (!(err instanceof HyperparameterError)) throw err;
    problems.push(
      ...err.issues.map((i) => ({
        field: requestField(i.field, input.seed !== undefined),
        message: i.message,
      })),
    );
    throw new ValidationFailedError("the run is invalid", problems);
  }
  if (config.numEnvs % runners !== 0) {
    problems.push({ field: "resources.runners", message: `must divide numEnvs (${config.numEnvs})` });
  }
  if (problems.length > 0) throw new ValidationFailedError("the run is invalid", problems);
  return {
    config,
    resources: { runners, envsPerRunner: config.numEnvs / runners, gpu: input.resources?.gpu ?? false },
  };
}

/**
 * The configuration problems of a request that failed its own field checks: so that a form flags every
 * invalid field at once, not the hyperparameters only after the rest was fixed. Only for a built-in env
 * (an env defined by code needs the database); fields already flagged, and the configuration of a field
 * that was itself invalid, are left out (a placeholder stands in for an invalid totalSteps or seed).
 */
export function configurationProblems(raw: unknown, flagged: ReadonlySet<string>): FieldProblem[] {
  if (typeof raw !== "object" || raw === null) return [];
  const r = raw as Record<string, unknown>;
  if (typeof r["env"] !== "string" || !isEnvId(r["env"]) || flagged.has("preset")) return [];
  if (flagged.has("hyperparameters") || flagged.has("resources")) return [];
  const valid = (field: string) => !flagged.has(field) && r[field] !== undefined;
  const input: RunSpecInput = {
    env: r["env"],
    preset: r["preset"] as PresetName | undefined,
    hyperparameters: r["hyperparameters"] as Record<string, unknown> | undefined,
    totalSteps: valid("totalSteps") ? (r["totalSteps"] as number) : PLACEHOLDER_TOTAL_STEPS,
    ...(valid("seed") ? { seed: r["seed"] as number } : {}),
    resources: r["resources"] as RunSpecInput["resources"],
  };
  try {
    resolveRun(input);
    return [];
  } catch (err) {
    if (!(err instanceof ValidationFailedError)) return [];
    return err.problems.filter((p) => !flagged.has(p.field) && !flagged.has(p.field.split(".")[0]!));
  }
}

/** Steps enough for any batch (numEnvs × numSteps within their bounds): no problem of its own. */
const PLACEHOLDER_TOTAL_STEPS = 1e10;
