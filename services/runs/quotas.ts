import type { Config } from "../../config.ts";
import type { Quota, QuotaKey } from "../../contracts/quota-limits.ts";
import type { Role } from "../../contracts/roles.ts";

/**
 * What each role may ask of the cluster. Learners share it; researchers sweep; admins are trusted,
 * within bounds. Ops set every limit (`QUOTA_<ROLE>_<LIMIT>` in config.ts, `quotas` in the chart);
 * admins may override any of them for one user (services/users/quotas.ts `effectiveQuota`).
 */
export type RoleQuotas = Readonly<Record<Role, Quota>>;

/** A user's quota as a check applies it: the role's, with the limits an admin's override sets. */
export interface EffectiveQuota extends Quota {
  /** The limits the user's override sets: their refusals say "this account", not the role. */
  overridden?: readonly QuotaKey[];
}

/** Who a limit belongs to, as a refusal says it: "a learner may …", or "this account may …". */
export function holder(role: Role, q: EffectiveQuota, key: QuotaKey): string {
  if (q.overridden?.includes(key)) return "this account";
  return role === "admin" ? "an admin" : `a ${role}`;
}

/** The quotas of every role as `config` sets them. */
export function roleQuotas(config: Config): RoleQuotas {
  return {
    learner: {
      concurrentRuns: config.QUOTA_LEARNER_CONCURRENT_RUNS,
      runnersPerRun: config.QUOTA_LEARNER_RUNNERS_PER_RUN,
      totalSteps: config.QUOTA_LEARNER_TOTAL_STEPS,
      gpu: config.QUOTA_LEARNER_GPU,
      submissionsPerMinute: config.QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE,
      parameters: config.QUOTA_LEARNER_PARAMETERS,
      gradientSteps: config.QUOTA_LEARNER_GRADIENT_STEPS,
      samplesPerIteration: config.QUOTA_LEARNER_SAMPLES_PER_ITERATION,
      flopsPerIteration: config.QUOTA_LEARNER_FLOPS_PER_ITERATION,
      concurrentSweeps: 0,
    },
    researcher: {
      concurrentRuns: config.QUOTA_RESEARCHER_CONCURRENT_RUNS,
      runnersPerRun: config.QUOTA_RESEARCHER_RUNNERS_PER_RUN,
      totalSteps: config.QUOTA_RESEARCHER_TOTAL_STEPS,
      gpu: config.QUOTA_RESEARCHER_GPU,
      submissionsPerMinute: config.QUOTA_RESEARCHER_SUBMISSIONS_PER_MINUTE,
      parameters: config.QUOTA_RESEARCHER_PARAMETERS,
      gradientSteps: config.QUOTA_RESEARCHER_GRADIENT_STEPS,
      samplesPerIteration: config.QUOTA_RESEARCHER_SAMPLES_PER_ITERATION,
      flopsPerIteration: config.QUOTA_RESEARCHER_FLOPS_PER_ITERATION,
      concurrentSweeps: config.QUOTA_RESEARCHER_CONCURRENT_SWEEPS,
    },
    admin: {
      concurrentRuns: config.QUOTA_ADMIN_CONCURRENT_RUNS,
      runnersPerRun: config.QUOTA_ADMIN_RUNNERS_PER_RUN,
      totalSteps: config.QUOTA_ADMIN_TOTAL_STEPS,
      gpu: config.QUOTA_ADMIN_GPU,
      submissionsPerMinute: config.QUOTA_ADMIN_SUBMISSIONS_PER_MINUTE,
      parameters: config.QUOTA_ADMIN_PARAMETERS,
      gradientSteps: config.QUOTA_ADMIN_GRADIENT_STEPS,
      samplesPerIteration: config.QUOTA_ADMIN_SAMPLES_PER_ITERATION,
      flopsPerIteration: config.QUOTA_ADMIN_FLOPS_PER_ITERATION,
      concurrentSweeps: config.QUOTA_ADMIN_CONCURRENT_SWEEPS,
    },
  };
}
