import type { Context, ServiceSchema } from "moleculer";
import type { ServiceDeps } from "./deps.ts";
import { issueTicket, MAX_TICKET_TTL_S, redeemTicket } from "./tickets/tickets.ts";

/**
 * Short-lived, single-use tickets for the WebSocket upgrade (`POST /api/v1/ws/tickets`, then
 * `GET /api/v1/ws?ticket=`). Kept in PostgreSQL so that a ticket issued through one API replica can
 * be redeemed on another, and exactly once. Actions are "public" for the reason given in
 * users.service.ts: the API may run on another node.
 */
export default function ticketsService(deps: ServiceDeps): ServiceSchema {
  const fork = () => deps.db.orm.em.fork();

  return {
    name: "tickets",

    settings: {},

    dependencies: [],

    actions: {
      /** The API has authenticated the caller; the ticket inherits the access token's expiry. */
      issue: {
        visibility: "public",
        params: {
          userId: "uuid",
          sessionExpiresAt: { type: "number", integer: true, positive: true },
          ttlSeconds: { type: "number", integer: true, min: 1, max: MAX_TICKET_TTL_S, optional: true },
        },
        handler(ctx: Context<{ userId: string; sessionExpiresAt: number; ttlSeconds?: number }>) {
          return issueTicket(fork(), {
            ...ctx.params,
            ttlSeconds: ctx.params.ttlSeconds ?? MAX_TICKET_TTL_S,
          });
        },
      },

      /** `{ userId, sessionExpiresAt }`, or null for an unknown, used or expired ticket. */
      redeem: {
        visibility: "public",
        params: { ticket: { type: "string", min: 1, max: 200 } },
        async handler(ctx: Context<{ ticket: string }>) {
          return (await redeemTicket(fork(), ctx.params.ticket)) ?? null;
        },
      },
    },

    events: {},

    methods: {},
  };
}
