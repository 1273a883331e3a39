import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { User } from "./User.ts";

/**
 * An `Idempotency-Key` sent with `POST /runs`, scoped to its user: the digest of the request body it
 * came with, and the run it created once the request finished (null while it is in flight). A retry
 * with the same key and body gets that run back; the row expires after IDEMPOTENCY_KEY_TTL_S
 * (as in the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's API).
 */
export const IdempotencyKey = defineEntity({
  name: "IdempotencyKey",
  tableName: "idempotency_keys",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).ref().deleteRule("cascade"),
    key: p.text(),
    /** SHA-256 of the canonical JSON of the request body, hex. */
    requestHash: p.text(),
    /** The run created under the key; null while the first request is in flight. */
    runId: p.uuid().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
  },
  uniques: [{ properties: ["user", "key"] }],
});

export type IdempotencyKey = InferEntity<typeof IdempotencyKey>;
