import type { RunStatus } from "../db/entities/Run.ts";

/**
 * The run state machine. queued → running → (stopping →) stopped | completed | failed; a stopped or
 * failed run is resumed by going back to queued. Every status change, in the actor or in a service,
 * goes through `assertTransition`, so an impossible move fails loudly instead of corrupting a run.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ["running", "stopped", "failed"],
  running: ["stopping", "completed", "failed"],
  stopping: ["stopped", "failed"],
  stopped: ["queued"],
  completed: [],
  failed: ["queued"],
};

/** Statuses in which a run holds (or waits for) resources and counts against the concurrency quota. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ["queued", "running", "stopping"];

export class InvalidTransitionError extends Error {
  override name = "InvalidTransitionError";
  constructor(
    readonly from: RunStatus,
    readonly to: RunStatus,
  ) {
    super(`a run cannot go from ${from} to ${to}`);
  }
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export function assertTransition(from: RunStatus, to: RunStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}

export function isTerminal(status: RunStatus): boolean {
  return status === "stopped" || status === "completed" || status === "failed";
}
