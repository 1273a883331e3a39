/**
 * A quota's limits, defined once (no zod here: the dashboard bundles this file). Ops set each role's
 * in the environment (`QUOTA_<ROLE>_<LIMIT>`, config.ts) or the chart (`config.quotas`); admins may
 * override any of them for one user (contracts/quotas.ts). What a user may do is the effective quota:
 * the role's with the user's override on top (`overlayQuota`).
 */
export interface Quota {
  /** Runs queued, running or stopping at once. */
  concurrentRuns: number;
  /** Env runners of one run. */
  runnersPerRun: number;
  /** Env steps of one run. */
  totalSteps: number;
  /** Whether a run may ask for a GPU. */
  gpu: boolean;
  /** Exercise submissions in any 60 seconds. */
  submissionsPerMinute: number;
  /** Network parameters of one run: actor, critic and log-std (gSDE's matrix included). */
  parameters: number;
  /** Gradient steps per PPO iteration: updateEpochs × numMinibatches. */
  gradientSteps: number;
  /** Transitions collected per iteration: numEnvs × numSteps. */
  samplesPerIteration: number;
  /** Estimated floating-point operations per iteration (services/runs/compute.ts). */
  flopsPerIteration: number;
  /** Sweeps running or stopping at once (learners never sweep, whatever this says). */
  concurrentSweeps: number;
}

export type QuotaKey = keyof Quota;

/** An admin's override for one user: any subset of the limits; the others stay the role's. */
export type QuotaOverride = Partial<Quota>;

export interface QuotaLimit {
  key: QuotaKey;
  /** As the dashboard labels it. */
  label: string;
  /** The `proxima users quota` option that sets it. */
  flag: string;
}

/** Every limit, in the order the API, the dashboard and the CLI list them. */
export const QUOTA_LIMITS: readonly QuotaLimit[] = [
  { key: "concurrentRuns", label: "Concurrent runs", flag: "--concurrent-runs" },
  { key: "runnersPerRun", label: "Runners per run", flag: "--runners-per-run" },
  { key: "totalSteps", label: "Steps per run", flag: "--total-steps" },
  { key: "gpu", label: "GPU runs", flag: "--gpu" },
  { key: "submissionsPerMinute", label: "Submissions per minute", flag: "--submissions-per-minute" },
  { key: "parameters", label: "Parameters per run", flag: "--parameters" },
  { key: "gradientSteps", label: "Gradient steps per iteration", flag: "--gradient-steps" },
  { key: "samplesPerIteration", label: "Samples per iteration", flag: "--samples-per-iteration" },
  { key: "flopsPerIteration", label: "FLOPs per iteration (estimated)", flag: "--flops-per-iteration" },
  { key: "concurrentSweeps", label: "Concurrent sweeps", flag: "--concurrent-sweeps" },
];

export const QUOTA_KEYS: readonly QuotaKey[] = QUOTA_LIMITS.map((l) => l.key);

/** The effective quota: the role's, each limit the override sets replaced by the override's. */
export function overlayQuota(role: Quota, override: QuotaOverride): Quota {
  const effective = { ...role };
  for (const key of QUOTA_KEYS) {
    const value = override[key];
    if (value !== undefined) (effective as Record<QuotaKey, number | boolean>)[key] = value;
  }
  return effective;
}
