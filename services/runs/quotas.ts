import type { Config } from "../../config.ts";
import type { Role } from "../../contracts/roles.ts";

/**
 * What each role may ask of the cluster. Learners share it; researchers sweep; admins are trusted,
 * within bounds. Ops set every limit (`QUOTA_<ROLE>_<LIMIT>` in config.ts, `quotas` in the chart).
 */
export interface RoleQuota {
  /** Runs queued, running or stopping at once. */
  concurrentRuns: number;
  runnersPerRun: number;
  totalSteps: number;
  gpu: boolean;
  /** Network parameters of one run: actor, critic and log-std (gSDE's matrix included). */
  parameters: number;
  /** Gradient steps per PPO iteration: updateEpochs × numMinibatches. */
  gradientSteps: number;
  /** Transitions collected per iteration: numEnvs × numSteps. */
  samplesPerIteration: number;
  /** Estimated floating-point operations per iteration (services/runs/compute.ts). */
  flopsPerIteration: number;
  /** Sweeps running or stopping at once (sweeps are for researchers and admins: 0 for learners). */
  concurrentSweeps: number;
}

export type RoleQuotas = Readonly<Record<Role, RoleQuota>>;

/** The quotas of every role as `config` sets them. */
export function roleQuotas(config: Config): RoleQuotas {
  return {
    learner: {
      concurrentRuns: config.QUOTA_LEARNER_CONCURRENT_RUNS,
      runnersPerRun: config.QUOTA_LEARNER_RUNNERS_PER_RUN,
      totalSteps: config.QUOTA_LEARNER_TOTAL_STEPS,
      gpu: config.QUOTA_LEARNER_GPU,
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
      parameters: config.QUOTA_ADMIN_PARAMETERS,
      gradientSteps: config.QUOTA_ADMIN_GRADIENT_STEPS,
      samplesPerIteration: config.QUOTA_ADMIN_SAMPLES_PER_ITERATION,
      flopsPerIteration: config.QUOTA_ADMIN_FLOPS_PER_ITERATION,
      concurrentSweeps: config.QUOTA_ADMIN_CONCURRENT_SWEEPS,
    },
  };
}
