/**
 * Environments defined by code: a learner's script, checked in the sandbox and then known as
 * `custom:<submission id>`. rl/ never runs that code (the sandbox does, on the workers); it knows
 * the env's declared spaces and time limit, which are all a learner and a policy network need.
 */
import { z } from "zod";
import { spaceFromJson } from "../core/spaces.ts";
import type { BoxSpace, EnvSpaces, JsonSpace } from "../core/types.ts";

export const CODE_ENV_PREFIX = "custom:";

/** An env id as requests name it (runs, sweeps): checked against the registry and the submissions later. */
export const envIdSchema = z
  .string()
  .min(1)
  .max(100)
  .describe(
    "Environment id: a built-in one (e.g. CartPole-v1), or custom:<submission id> for one of your environment submissions that passed its checks.",
  );

/** What an environment's `createEnv()` declared, as checked and stored. */
export interface CodeEnvSpec {
  observationSpace: Extract<JsonSpace, { kind: "box" }>;
  actionSpace: JsonSpace;
  maxEpisodeSteps: number;
  /** The env has getState/setState: runs resume it exactly. */
  stateful: boolean;
}

/** An environment defined by code, as an env runner needs it. */
export interface CodeEnvDefinition {
  /** The script declaring `createEnv()` (a classic script, run in the sandbox only). */
  code: string;
  spec: CodeEnvSpec;
}

export function isCodeEnvId(id: string): boolean {
  return id.startsWith(CODE_ENV_PREFIX);
}

/** The env id of an environment submission. */
export function codeEnvId(submissionId: string): string {
  return `${CODE_ENV_PREFIX}${submissionId}`;
}

/** The submission id in `custom:<id>`, or null when `id` is not of that form. */
export function codeEnvSubmissionId(id: string): string | null {
  return isCodeEnvId(id) ? id.slice(CODE_ENV_PREFIX.length) : null;
}

export function codeEnvSpaces(spec: CodeEnvSpec): EnvSpaces {
  return {
    observationSpace: spaceFromJson(spec.observationSpace) as BoxSpace,
    actionSpace: spaceFromJson(spec.actionSpace),
  };
}
