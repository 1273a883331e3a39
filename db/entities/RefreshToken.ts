import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { User } from "./User.ts";

/**
 * One opaque refresh token, stored only as the SHA-256 hex digest of its value: a leaked table does
 * not leak usable tokens. Tokens rotate within a family (one login); reusing a rotated token
 * (`usedAt` set) is the signal to revoke the whole family.
 */
export const RefreshToken = defineEntity({
  name: "RefreshToken",
  tableName: "refresh_tokens",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    // Deleting a user removes their tokens in the database itself, whatever code path deletes the row;
    // the index serves that cascade and the per-user listing.
    user: () => p.manyToOne(User).ref().deleteRule("cascade").index(),
    tokenHash: p.text().unique(),
    familyId: p.uuid().index(),
    expiresAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Set when the token is exchanged for a new one. */
    usedAt: p.datetime().nullable(),
    /** Set when the token's family is revoked (reuse detected, logout). */
    revokedAt: p.datetime().nullable(),
  },
});

export type RefreshToken = InferEntity<typeof RefreshToken>;
