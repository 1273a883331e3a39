import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { User } from "./User.ts";

/**
 * A registration invite (REGISTRATION=invite): an admin creates one, its code goes to one person, and
 * a registration that presents it while it is valid and unused creates the account. Only the SHA-256
 * digest of the code is stored; using it is one conditional update, so two registrations cannot both
 * spend one invite.
 */
export const Invite = defineEntity({
  name: "Invite",
  tableName: "invites",
  properties: {
    codeHash: p.text().primary(),
    /** The admin who created it. */
    createdBy: () => p.manyToOne(User).ref().deleteRule("cascade").index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    /** Set when a registration spends it. */
    usedAt: p.datetime().nullable(),
    usedBy: () => p.manyToOne(User).ref().nullable().deleteRule("set null"),
  },
});

export type Invite = InferEntity<typeof Invite>;
