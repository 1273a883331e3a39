/**
 * The run state machine, defined once: the server's actors and services, the runs store's SQL, the
 * dashboard and the CLI all read it from here.
 *
 * queued → running → (stopping →) stopped | completed | failed; a stopped or failed run is resumed by
 * going back to queued. Every status change, in the actor or in a service, goes through
 * `assertTransition`, so an impossible move fails loudly instead of corrupting a run.
 */
export const RUN_STATUSES = ["queued", "running", "stopping", "stopped", "completed", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Whether a string from the wire (a pushed frame, a query) is a run status. */
export function isRunStatus(value: string): value is RunStatus {
  return (RUN_STATUSES as readonly string[]).includes(value);
}

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

/**
 * What a stop request does from each status it applies to: a queued run stops at once, a running one
 * is asked to stop (its actor finishes within one iteration). Checked against the transitions below.
 */
export const STOP_TRANSITIONS: Readonly<Partial<Record<RunStatus, RunStatus>>> = {
  queued: "stopped",
  running: "stopping",
};

/** The statuses a resume applies to: those from which a run may go back to the queue. */
export const RESUMABLE_STATUSES: readonly RunStatus[] = RUN_STATUSES.filter((s) =>
  RUN_TRANSITIONS[s].includes("queued"),
);

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

/** A status with no way forward but a resume: the run's lifecycle has ended. */
export function isTerminal(status: RunStatus): boolean {
  return RUN_TRANSITIONS[status].every((next) => next === "queued");
}

/**
 * A status's place in one lifecycle (queued 0, running 1, stopping 2, the ends 3): the length of the
 * longest forward path from queued, derived from the transitions. Within a lifecycle a run never moves
 * back; only a resume starts a new one.
 */
export const LIFECYCLE_RANK: Readonly<Record<RunStatus, number>> = (() => {
  const rank = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
  const visit = (from: RunStatus, depth: number) => {
    for (const to of RUN_TRANSITIONS[from]) {
      if (to === "queued" || rank[to] >= depth + 1) continue;
      rank[to] = depth + 1;
      visit(to, depth + 1);
    }
  };
  visit("queued", 0);
  const ends = RUN_STATUSES.filter(isTerminal).map((s) => rank[s]);
  const last = Math.max(...ends);
  for (const s of RUN_STATUSES) if (isTerminal(s)) rank[s] = last;
  return rank;
})();

/**
 * Whether a reported status is news after the one shown. A status reaches a client by two roads
 * (pushed frames in order, and HTTP answers that a frame may overtake) and frames may be missed, so
 * steps may be skipped: a report that does not move the run forward in its lifecycle is stale, except
 * a resume (a new lifecycle) from a resumable status.
 */
export function advancesStatus(current: string, next: string): boolean {
  if (next === current) return false;
  const from = LIFECYCLE_RANK[current as RunStatus];
  const to = LIFECYCLE_RANK[next as RunStatus];
  if (from === undefined || to === undefined) return true;
  if (to > from) return true;
  return (
    (RESUMABLE_STATUSES as readonly string[]).includes(current) && (next === "queued" || next === "running")
  );
}

for (const [from, to] of Object.entries(STOP_TRANSITIONS)) assertTransition(from as RunStatus, to);
