import type { ApiContext } from "../context.ts";

/**
 * Reads a JSON request body, at most `limit` bytes. Only routes that declare a body schema call it,
 * so no other route ever buffers a request. 413 beyond the limit (checked against Content-Length
 * before reading anything, and while reading for chunked bodies), 415 for another media type, 400 for
 * malformed JSON. An empty body reads as `undefined` and is left to the schema to refuse.
 */
export class BodyLimitError extends Error {
  override name = "BodyLimitError";
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "1mb", "512kb", "100" (bytes) → bytes. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!match) throw new BodyLimitError(`BODY_LIMIT must look like 100kb or 1mb, got "${text}"`);
  return Math.floor(Number(match[1]) * UNITS[(match[2] ?? "b").toLowerCase()]!);
}

export async function readJsonBody(ctx: ApiContext, limit: number, limitText: string): Promise<unknown> {
  const declared = ctx.request.length;
  const chunked = ctx.get("transfer-encoding") !== "";
  if (!chunked && (declared === undefined || declared === 0)) return undefined;
  if (declared !== undefined && declared > limit) ctx.throw(413, `the request body exceeds ${limitText}`);
  if (!ctx.request.is("application/json", "application/*+json")) {
    ctx.throw(415, "send the request body as application/json");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) ctx.throw(413, `the request body exceeds ${limitText}`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
  } catch {
    return ctx.throw(400, "the request body is not valid JSON");
  }
}
