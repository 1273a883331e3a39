import { ClientMessage, SweepClientMessage } from "../../contracts/ws.ts";

/** Parses one frame; the error is what the client is told. */
export function parseClientMessage(
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
): { ok: true; message: ClientMessage | SweepClientMessage } | { ok: false; error: string } {
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
  if (raw !== null && typeof raw === "object" && "sweepId" in raw) {
    const sweep = SweepClientMessage.safeParse(raw);
    if (sweep.success) return { ok: true, message: sweep.data };
    const issue = sweep.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
    return {
      ok: false,
      error: `expected {type:"subscribe"|"unsubscribe", sweepId:<uuid>}; ${where}${issue?.message ?? "invalid"}`,
    };
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
