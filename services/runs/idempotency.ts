import { createHash } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ConflictError, NotFoundError, ValidationFailedError } from "../../lib/errors.ts";

/**
 * `Idempotency-Key` on `POST /runs` (IETF draft "The Idempotency-Key HTTP Header Field"; Stripe's
 * semantics). The key is claimed by inserting its row before the run is created, so that of two
 * requests with one key exactly one creates a run; the row gets the run's id in the transaction that
 * creates the run. A request that fails before that deletes the row, so that the key may be used again.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type KeyClaim = { kind: "new"; keyId: string } | { kind: "replay"; runId: string };

/** SHA-256 of the body's JSON with its object keys sorted: the same body, whatever its key order. */
export function requestDigest(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Claims `key` for this request, or tells what an earlier request with it did. A row left in flight
 * longer than `abandonAfterMs` (its process died between the claim and the run) may be claimed anew.
 */
export async function claimKey(
  orm: MikroORM,
  userId: string,
  key: string,
  digest: string,
  ttlS: number,
  abandonAfterMs: number,
): Promise<KeyClaim> {
  const conn = orm.em.getConnection();
  await conn.execute(
    `delete from "idempotency_keys" where "user_id" = ? and "key" = ? and "expires_at" < now()`,
    [userId, key],
  );
  const inserted = await conn.execute<{ id: string }[]>(
    `insert into "idempotency_keys" ("id", "user_id", "key", "request_hash", "run_id", "created_at", "expires_at")
     values (gen_random_uuid(), ?, ?, ?, null, now(), now() + ? * interval '1 second')
     on conflict ("user_id", "key") do nothing returning "id"`,
    [userId, key, digest, ttlS],
  );
  if (inserted[0]) return { kind: "new", keyId: inserted[0].id };
  const rows = await conn.execute<
    { id: string; request_hash: string; run_id: string | null; stale: boolean }[]
  >(
    `select "id", "request_hash", "run_id", "created_at" < now() - ? * interval '1 millisecond' as "stale"
     from "idempotency_keys" where "user_id" = ? and "key" = ?`,
    [abandonAfterMs, userId, key],
  );
  const row = rows[0];
  // Deleted in between (the first request failed and gave the key back): try once more.
  if (!row) return claimKey(orm, userId, key, digest, ttlS, abandonAfterMs);
  if (row.request_hash !== digest) {
    throw new ValidationFailedError("this Idempotency-Key was used with another request body", [
      { field: "header.idempotency-key", message: "already used with a different body; use a new key" },
    ]);
  }
  if (row.run_id !== null) return { kind: "replay", runId: row.run_id };
  if (row.stale) {
    const taken = await conn.execute<{ id: string }[]>(
      `update "idempotency_keys" set "created_at" = now() where "id" = ? and "run_id" is null
         and "created_at" < now() - ? * interval '1 millisecond' returning "id"`,
      [row.id, abandonAfterMs],
    );
    if (taken[0]) return { kind: "new", keyId: row.id };
  }
  throw new ConflictError("a request with this Idempotency-Key is still in progress; retry later", {
    reason: "idempotency-key-in-flight",
  });
}

/** The first request failed before it created a run: the key is free again. */
export async function releaseKey(orm: MikroORM, keyId: string): Promise<void> {
  await orm.em
    .getConnection()
    .execute(`delete from "idempotency_keys" where "id" = ? and "run_id" is null`, [keyId]);
}

export async function deleteExpiredKeys(orm: MikroORM): Promise<void> {
  await orm.em.getConnection().execute(`delete from "idempotency_keys" where "expires_at" < now()`);
}

/** A replay whose run was deleted since: the key's answer is gone too. */
export function replayedRunGone(): NotFoundError {
  return new NotFoundError("run", { reason: "the run created with this Idempotency-Key was deleted" });
}
