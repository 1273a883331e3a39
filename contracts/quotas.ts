import { z } from "zod";
import type { Quota, QuotaKey } from "./quota-limits.ts";
import { ROLES } from "./roles.ts";

/**
 * Quotas as the API answers them and admins set them (GET /me/quotas, GET/PUT/DELETE
 * /users/{id}/quotas). The limits themselves are described in contracts/quota-limits.ts.
 */
const DESCRIPTIONS: Record<QuotaKey, string> = {
  concurrentRuns: "Runs queued, running or stopping at once (429 beyond).",
  runnersPerRun: "Env runners of one run.",
  totalSteps: "Env steps of one run.",
  gpu: "Whether a run may ask for a GPU.",
  submissionsPerMinute: "Exercise submissions in any 60 seconds (429 beyond).",
  parameters: "Network parameters of one run (actor, critic and log-std).",
  gradientSteps: "Gradient steps per PPO iteration: updateEpochs × numMinibatches.",
  samplesPerIteration: "Transitions per PPO iteration: numEnvs × numSteps.",
  flopsPerIteration: "Estimated floating-point operations per PPO iteration.",
  concurrentSweeps: "Sweeps running or stopping at once (learners never sweep).",
};

/** A role's limit may be 0 (a learner's sweeps); one an admin sets is a positive integer. */
function limits(min: 0 | 1) {
  const count = (key: QuotaKey) =>
    z.number().int().min(min).max(Number.MAX_SAFE_INTEGER).describe(DESCRIPTIONS[key]);
  return {
    concurrentRuns: count("concurrentRuns"),
    runnersPerRun: count("runnersPerRun"),
    totalSteps: count("totalSteps"),
    gpu: z.boolean().describe(DESCRIPTIONS.gpu),
    submissionsPerMinute: count("submissionsPerMinute"),
    parameters: count("parameters"),
    gradientSteps: count("gradientSteps"),
    samplesPerIteration: count("samplesPerIteration"),
    flopsPerIteration: count("flopsPerIteration"),
    concurrentSweeps: count("concurrentSweeps"),
  };
}

/** What a role (or a user, overrides included) may do; `satisfies`: it is the contract's `Quota`. */
export const QuotaSchema = z.object(limits(0)).meta({ title: "Quota" }) satisfies z.ZodType<Quota>;

/**
 * An admin's override: any subset of the limits, each a positive integer (`gpu` a boolean); a limit
 * left out is the role's. PUT replaces the whole override, so leaving a limit out clears it.
 */
export const QuotaOverrideSchema = z.strictObject(limits(1)).partial().meta({ title: "QuotaOverride" });

export const UserQuotasSchema = z
  .object({
    userId: z.uuid(),
    role: z.enum(ROLES),
    roleQuota: QuotaSchema.describe("The role's quota, as ops set it."),
    override: QuotaOverrideSchema.describe("What an admin set for this user ({} when nothing)."),
    effective: QuotaSchema.describe(
      "What applies to the user's next request: the role's with the override on top.",
    ),
    updatedAt: z.iso
      .datetime()
      .nullable()
      .describe("When the override was last set; null when there is none."),
  })
  .meta({ title: "UserQuotas" });

export type UserQuotas = z.infer<typeof UserQuotasSchema>;
