import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { User } from "./User.ts";

/**
 * A WebSocket ticket: a short-lived, single-use credential a browser passes as `?ticket=` on the
 * upgrade (it cannot set an Authorization header there), so that access tokens never go in URLs.
 * Only the SHA-256 digest of the value is stored; redeeming deletes the row in the same statement
 * that finds it, so that two API replicas cannot both accept one ticket.
 */
export const WsTicket = defineEntity({
  name: "WsTicket",
  tableName: "ws_tickets",
  properties: {
    tokenHash: p.text().primary(),
    user: () => p.manyToOne(User).ref().deleteRule("cascade").index(),
    /** When the ticket stops being redeemable (seconds after issue). */
    expiresAt: p.datetime().index(),
    /** When the access token that asked for the ticket expires: the socket closes then. */
    sessionExpiresAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type WsTicket = InferEntity<typeof WsTicket>;
