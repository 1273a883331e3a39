import { createHash, randomBytes } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";

/**
 * WebSocket tickets: 256 random bits, shown once, stored as their SHA-256 digest in `ws_tickets`.
 * Times come from the database's clock (`now()`) on both sides, so that API replicas and service
 * nodes with skewed clocks agree on when a ticket expires.
 */
export const MAX_TICKET_TTL_S = 30;

export interface IssuedTicket {
  ticket: string;
  /** Seconds the ticket stays redeemable. */
  expiresIn: number;
}

export interface RedeemedTicket {
  userId: string;
  /** When the access token that asked for the ticket expires (ms since the epoch). */
  sessionExpiresAt: number;
}

/** SHA-256 without salt suffices: the input is 256 random bits, there is no dictionary to precompute. */
export function hashTicket(ticket: string): string {
  return createHash("sha256").update(ticket, "utf8").digest("hex");
}

export async function issueTicket(
  em: EntityManager,
  input: { userId: string; sessionExpiresAt: number; ttlSeconds: number },
): Promise<IssuedTicket> {
  const ticket = randomBytes(32).toString("base64url");
  // A ticket never outlives the token that asked for it.
  const ttl = Math.min(input.ttlSeconds, MAX_TICKET_TTL_S);
  await em.execute(
    `insert into "ws_tickets" ("token_hash", "user_id", "expires_at", "session_expires_at", "created_at")
     values (?, ?, least(now() + make_interval(secs => ?), ?), ?, now())`,
    [
      hashTicket(ticket),
      input.userId,
      ttl,
      new Date(input.sessionExpiresAt),
      new Date(input.sessionExpiresAt),
    ],
  );
  // Unredeemed tickets would otherwise stay forever; the index on expires_at keeps this cheap.
  await em.execute(`delete from "ws_tickets" where "expires_at" < now() - interval '1 minute'`);
  return { ticket, expiresIn: ttl };
}

/**
 * Deletes the ticket and returns its owner in one statement: of two concurrent redemptions (on two
 * replicas, say) only one gets the row back. Unknown, used and expired tickets all give undefined.
 */
export async function redeemTicket(em: EntityManager, ticket: string): Promise<RedeemedTicket | undefined> {
  const rows = await em.execute<{ user_id: string; session_expires_at: Date }[]>(
    `delete from "ws_tickets" where "token_hash" = ? and "expires_at" > now()
     returning "user_id", "session_expires_at"`,
    [hashTicket(ticket)],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { userId: row.user_id, sessionExpiresAt: new Date(row.session_expires_at).getTime() };
}
