import type { EntityManager } from "@mikro-orm/postgresql";
import { Submission } from "../../db/entities/Submission.ts";
import { CUSTOM_ENVIRONMENT_EXERCISE } from "../../exercises/custom-environment.ts";
import { ValidationFailedError } from "../../lib/errors.ts";
import { isUuid } from "../../lib/uuid.ts";
import { type CodeEnvDefinition, codeEnvSubmissionId } from "../../rl/envs/code-env.ts";
import type { Caller } from "./records.ts";

/**
 * Environments defined by code, as runs use them: `custom:<submission id>` names a submission of the
 * custom-environment exercise that passed its checks, whose code and declared spec are stored with it.
 */

export interface StoredCodeEnv extends CodeEnvDefinition {
  ownerId: string;
}

/** The passed environment submission `custom:<id>` names, or null. */
export async function findCodeEnv(em: EntityManager, envId: string): Promise<StoredCodeEnv | null> {
  const id = codeEnvSubmissionId(envId);
  if (!isUuid(id)) return null;
  const s = await em.findOne(Submission, {
    id,
    exerciseId: CUSTOM_ENVIRONMENT_EXERCISE,
    status: "passed",
    envSpec: { $ne: null },
  });
  if (!s?.envSpec) return null;
  return { code: s.code, spec: s.envSpec, ownerId: s.user.id };
}

/**
 * The environment a new run of the caller's may train on: its own passed environment submission (an
 * admin may use anyone's). Anything else is a 422 on `env`, saying which of those it is not, and never
 * whether another user's submission exists.
 */
export async function usableCodeEnv(
  em: EntityManager,
  envId: string,
  caller: Caller,
): Promise<StoredCodeEnv> {
  const env = await findCodeEnv(em, envId);
  if (!env || (caller.role !== "admin" && env.ownerId !== caller.userId)) {
    throw new ValidationFailedError("the run is invalid", [
      {
        field: "env",
        message: `${envId} is not one of your environment submissions that passed its checks (submit one to the ${CUSTOM_ENVIRONMENT_EXERCISE} exercise)`,
      },
    ]);
  }
  return env;
}
