import { z } from "zod";
import type { RunStatus } from "../../db/entities/Run.ts";

/**
 * The WebSocket protocol of `/api/v1/ws`: JSON text frames, one message each, with a `type`.
 *
 * In:  `{type:"subscribe", runId}`, `{type:"unsubscribe", runId}`.
 * Out: `{type:"subscribed", runId, status}` (then the latest stored point, then live ones),
 *      `{type:"unsubscribed", runId}`, `{type:"metrics", runId, iteration, globalStep, metrics}`,
 *      `{type:"status", runId, status}`, `{type:"error", message, code, runId?}`.
 */
const RunId = z.uuid();

export const ClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("subscribe"), runId: RunId }),
  z.strictObject({ type: z.literal("unsubscribe"), runId: RunId }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

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
  | { type: "error"; code: ErrorCode; message: string; runId?: string };

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

/** Parses one frame; the error is what the client is told. */
export function parseClientMessage(
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
): { ok: true; message: ClientMessage } | { ok: false; error: string } {
  if (isBinary) return { ok: false, error: "send JSON text frames, not binary ones" };
  const bytes = Array.isArray(data)
    ? Buffer.concat(data)
    : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : data;
  const text = bytes.toString("utf8");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "the message is not JSON" };
  }
  const parsed = ClientMessage.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return {
    ok: false,
    error: `expected {type:"subscribe"|"unsubscribe", runId:<uuid>}; ${where}${issue?.message ?? "invalid"}`,
  };
}
