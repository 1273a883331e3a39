import { isUuid } from "./uuid.ts";

/**
 * Page cursors are opaque to clients but come back from them, so they are input like any other: a
 * decoded cursor must be exactly what the API could have encoded before any of it reaches a query.
 * PostgreSQL refuses a uuid column compared with a non-uuid, text with NUL, and timestamps outside
 * 4713 BC–294276 AD (JavaScript dates reach ±271821): each of those was a 500 (issue 15, finding 7).
 */

/** What `Date.prototype.toISOString` writes for years 0000–9999, the only dates encoded here. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Keyset position after a row ordered by (created_at, id), both descending. */
export interface KeysetPosition {
  at: Date;
  id: string;
}

export function encodeKeysetCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

/** The position, or null when the cursor is not one `encodeKeysetCursor` wrote. */
export function decodeKeysetCursor(cursor: string): KeysetPosition | null {
  const parts = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (parts.length !== 2) return null;
  const [iso, id] = parts as [string, string];
  if (!ISO_INSTANT.test(iso) || !isUuid(id)) return null;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? null : { at, id };
}

/**
 * Whether text can be stored as PostgreSQL text and read back unchanged: no NUL (which PostgreSQL
 * refuses) and no lone UTF-16 surrogate (which UTF-8 cannot encode; it would be stored as U+FFFD).
 */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

export function encodeTextCursor(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

/** The text position (an email, say), or null when it is empty or could not be a stored value. */
export function decodeTextCursor(cursor: string): string | null {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  return text.length > 0 && isStorableText(text) ? text : null;
}
