import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { ROLES } from "../../contracts/roles.ts";

/**
 * The one canonical form of an email address. Uniqueness is decided on this form, so every lookup
 * and every write must go through it (the `email` column applies it too, on write and in queries).
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const User = defineEntity({
  name: "User",
  // "user" is a reserved word in PostgreSQL: a plural table name keeps raw SQL free of quoting traps.
  tableName: "users",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    // The column type trims and lower-cases on write (and in where clauses), so the plain unique index
    // on the stored value makes uniqueness case-insensitive; the check constraint keeps raw SQL honest.
    email: p.text().trim().lowercase().unique(),
    name: p.text(),
    role: p.enum(ROLES).default("learner"),
    passwordHash: p.text().hidden(),
    disabled: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  checks: [{ name: "users_email_normalized_check", expression: "email = lower(btrim(email))" }],
});

export type User = InferEntity<typeof User>;
