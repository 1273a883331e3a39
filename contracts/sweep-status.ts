/** How a sweep searches: a grid, seeded random draws, or population-based training. */
export const SWEEP_METHODS = ["grid", "random", "pbt"] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

/**
 * A sweep's life: running (launching and following trials) → completed; a stop request makes it
 * stopping (its actor stops every trial) → stopped, and a resume makes it running again; failed when
 * it cannot go on (no trial could be launched for a reason that will not pass).
 */
export const SWEEP_STATUSES = ["running", "stopping", "stopped", "completed", "failed"] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
/** Whether a string from the wire (a pushed frame, a query) is a sweep status. */
export function isSweepStatus(value: string): value is SweepStatus {
  return (SWEEP_STATUSES as readonly string[]).includes(value);
}
export const ACTIVE_SWEEP_STATUSES: readonly SweepStatus[] = ["running", "stopping"];

/**
 * A trial's life: pending (its row exists, its run may not yet) → running (its run exists) →
 * completed | pruned (stopped by ASHA at a rung) | stopped (the sweep, or its owner, stopped it) |
 * failed (its run failed). A stopped trial runs again when its sweep is resumed.
 */
export const TRIAL_STATUSES = ["pending", "running", "completed", "pruned", "stopped", "failed"] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];

/** A trial's value at one ASHA rung, and the decision taken there (Li et al. 2020: top ⌈n/η⌉ continue). */
export interface RungRecord {
  rung: number;
  value: number | null;
  /** Trials at the rung when this one reached it (itself included), how many may continue, the cut. */
  n: number;
  keep: number;
  cutoff: number | null;
  continued: boolean;
}

/** Where a PBT segment started from, and what explore changed. */
export interface TrialLineage {
  parentTrialId: string;
  initFrom: { runId: string; iteration: number };
  exploited: boolean;
  perturbations: Record<string, { from: unknown; to: unknown; how: string }>;
}
