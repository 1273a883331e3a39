import type { Role } from "../../db/entities/User.ts";

/** What each role may ask of the cluster. Learners share it; researchers sweep; admins are trusted. */
export interface RoleQuota {
  /** Runs queued, running or stopping at once. */
  concurrentRuns: number;
  runnersPerRun: number;
  totalSteps: number;
  gpu: boolean;
}

export const QUOTAS: Readonly<Record<Role, RoleQuota>> = {
  learner: { concurrentRuns: 2, runnersPerRun: 2, totalSteps: 1_000_000, gpu: false },
  researcher: { concurrentRuns: 16, runnersPerRun: 32, totalSteps: 100_000_000, gpu: true },
  admin: { concurrentRuns: 64, runnersPerRun: 256, totalSteps: 10_000_000_000, gpu: true },
};
