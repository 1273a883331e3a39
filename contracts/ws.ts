import { z } from "zod";
import type { RunStatus } from "./run-status.ts";
import type { SubmissionGradedEvent } from "./submissions.ts";
import type { SweepStatus } from "./sweep-status.ts";
import type { TrialUpdate } from "./sweeps.ts";

/**
 * The WebSocket protocol of `/api/v1/ws`: JSON text frames, one message each, with a `type`.
 *
 * In:  `{type:"subscribe", runId}`, `{type:"unsubscribe", runId}`.
 * Out: `{type:"subscribed", runId, status}` (then the latest stored point, then live ones),
 *      `{type:"unsubscribed", runId}`, `{type:"metrics", runId, iteration, globalStep, metrics}`,
 *      `{type:"status", runId, status}`, `{type:"error", message, code, runId?}`,
 *      `{type:"submission", submissionId, exerciseId, exerciseVersion, status, score, maxScore}` (to the
 *      submission's author, on every socket of theirs, when its grading ends; no subscription needed).
 * Sweeps: `{type:"subscribe"|"unsubscribe", sweepId}` → `{type:"subscribed", sweepId, status}`, then
 *      `{type:"trial", sweepId, trial}` for each trial as it stands, then one on each trial's status or
 *      latest-metric change, and `{type:"status", sweepId, status}` when the sweep's status changes.
 */
const RunId = z.uuid();

export const ClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("subscribe"), runId: RunId }),
  z.strictObject({ type: z.literal("unsubscribe"), runId: RunId }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** A sweep's live trials: `{type:"subscribe"|"unsubscribe", sweepId}`. */
export const SweepClientMessage = z.strictObject({
  type: z.enum(["subscribe", "unsubscribe"]),
  sweepId: z.uuid(),
});
export type SweepClientMessage = z.infer<typeof SweepClientMessage>;

export type ErrorCode =
  | "bad_message"
  | "not_found"
  | "too_many_subscriptions"
  | "not_subscribed"
  | "unavailable";

export type ServerMessage =
  | { type: "subscribed"; runId: string; status: RunStatus }
  | { type: "unsubscribed"; runId: string }
  | {
      type: "metrics";
      runId: string;
      iteration: number;
      globalStep: number;
      metrics: Record<string, number | null>;
    }
  | { type: "status"; runId: string; status: RunStatus }
  | { type: "error"; code: ErrorCode; message: string; runId?: string; sweepId?: string }
  | { type: "subscribed"; sweepId: string; status: SweepStatus }
  | { type: "unsubscribed"; sweepId: string }
  | { type: "trial"; sweepId: string; trial: TrialUpdate }
  | { type: "status"; sweepId: string; status: SweepStatus }
  /** A graded submission, told to its learner's sockets (the event without the owner's id). */
  | ({ type: "submission" } & Omit<SubmissionGradedEvent, "userId">);

/**
 * Close codes. 1008 (policy violation), 1009 (message too big) and 1001 (going away) are RFC 6455
 * §7.4.1's; the 4000–4999 range is for applications (§7.4.2).
 */
export const CLOSE = {
  goingAway: 1001,
  policyViolation: 1008,
  tooBig: 1009,
  tokenExpired: 4001,
  accountDisabled: 4003,
} as const;
