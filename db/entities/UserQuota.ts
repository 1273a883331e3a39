import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import type { QuotaOverride } from "../../contracts/quota-limits.ts";
import { User } from "./User.ts";

/**
 * An admin's override of one user's quota: the limits it sets (a subset, as JSON: a new limit needs
 * no migration), the role's for the others. Every quota check reads it with the request it decides
 * (services/runs/quotas.ts `effectiveQuota`), so a change applies to the next request on every node.
 * Gone with its user.
 */
export const UserQuota = defineEntity({
  name: "UserQuota",
  tableName: "user_quotas",
  properties: {
    user: () => p.oneToOne(User).primary().ref().deleteRule("cascade"),
    limits: p.json<QuotaOverride>(),
    /** The admin who set it last (null once that account is gone). */
    updatedBy: () => p.manyToOne(User).ref().nullable().deleteRule("set null"),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export type UserQuota = InferEntity<typeof UserQuota>;
