import type { EntityManager } from "@mikro-orm/postgresql";
import type { Config } from "../../config.ts";
import type { Caller } from "../../contracts/roles.ts";
import { Submission } from "../../db/entities/Submission.ts";
import { CUSTOM_ENVIRONMENT_EXERCISE } from "../../exercises/custom-environment.ts";
import { ValidationFailedError } from "../../lib/errors.ts";
import { isUuid } from "../../lib/uuid.ts";
import { type CodeEnvDefinition, type CodeEnvSpec, codeEnvSubmissionId } from "../../rl/envs/code-env.ts";
import { type CustomEnvCaps, capViolation } from "../../sandbox/env-types.ts";

/**
 * Environments defined by code, as runs use them: `custom:<submission id>` names a submission of the
 * custom-environment exercise that passed its checks, whose code and declared spec are stored with it.
 */

export interface StoredCodeEnv extends CodeEnvDefinition {
  ownerId: string;
}

/** What an environment defined by code may declare, from the node's settings. */
export function codeEnvCaps(
  config: Pick<
    Config,
    "CODE_ENV_MAX_DISCRETE_ACTIONS" | "CODE_ENV_MAX_OBSERVATION_SIZE" | "CODE_ENV_MAX_ACTION_SIZE"
  >,
): CustomEnvCaps {
  return {
    maxDiscreteActions: config.CODE_ENV_MAX_DISCRETE_ACTIONS,
    maxObservationSize: config.CODE_ENV_MAX_OBSERVATION_SIZE,
    maxActionSize: config.CODE_ENV_MAX_ACTION_SIZE,
  };
}

/**
 * Refuses (422 on `env`) an environment whose stored spec exceeds today's caps: it passed its check
 * before ops lowered one (or before there were caps), and a run on it would build the networks the
 * cap is there to prevent. The problem names the cap's setting, its value and the env's.
 */
export function checkCodeEnvCaps(envId: string, spec: CodeEnvSpec, caps: CustomEnvCaps): void {
  const violation = capViolation(spec, caps);
  if (!violation) return;
  throw new ValidationFailedError("the run is invalid", [
    { field: "env", message: `${envId} ${violation.message}` },
  ]);
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
  /** Today's caps (`codeEnvCaps(config)`); the runs service always passes them. */
  caps?: CustomEnvCaps,
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
  if (caps) checkCodeEnvCaps(envId, env.spec, caps);
  return env;
}

/** At resume: the run's environment against today's caps (one that no longer exists fails the run later, as before). */
export async function checkResumedCodeEnv(
  em: EntityManager,
  envId: string,
  caps: CustomEnvCaps,
): Promise<void> {
  const env = await findCodeEnv(em, envId);
  if (env) checkCodeEnvCaps(envId, env.spec, caps);
}
