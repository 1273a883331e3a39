/**
 * A run's status reaches the page by two roads: WebSocket frames, in the order the run changed, and
 * HTTP answers (a refresh, the reply to Stop), which a frame may overtake. A report that does not
 * move the run forward is stale and must not be shown or logged twice. Within one lifecycle a run
 * never moves back (queued → running → stopping → stopped | completed | failed, as in
 * actors/run-state.ts); only a resume starts a new lifecycle, from stopped or failed.
 */
const LIFECYCLE_RANK: Readonly<Record<string, number>> = {
  queued: 0,
  running: 1,
  stopping: 2,
  stopped: 3,
  completed: 3,
  failed: 3,
};

const RESUMABLE = new Set(["stopped", "failed"]);

/** Whether `next` is news after `current` (frames may have been missed, so steps may be skipped). */
export function advancesStatus(current: string, next: string): boolean {
  if (next === current) return false;
  const from = LIFECYCLE_RANK[current];
  const to = LIFECYCLE_RANK[next];
  if (from === undefined || to === undefined) return true;
  if (to > from) return true;
  return RESUMABLE.has(current) && (next === "queued" || next === "running");
}
