import type { ServiceSchema } from "moleculer";
import { implement } from "./action.ts";
import type { ServiceDeps } from "./deps.ts";
import { TICKETS_ACTIONS } from "./tickets/actions.ts";
import { issueTicket, MAX_TICKET_TTL_S, redeemTicket } from "./tickets/tickets.ts";

/**
 * Short-lived, single-use tickets for the WebSocket upgrade (`POST /api/v1/ws/tickets`, then
 * `GET /api/v1/ws?ticket=`). Kept in PostgreSQL so that a ticket issued through one API replica can
 * be redeemed on another, and exactly once. Its actions
 * and their params are declared in tickets/actions.ts.
 */
export default function ticketsService(deps: ServiceDeps): ServiceSchema {
  const fork = () => deps.db.orm.em.fork();

  return {
    name: "tickets",

    settings: {},

    dependencies: [],

    actions: implement(TICKETS_ACTIONS, {
      issue(ctx) {
        return issueTicket(fork(), { ...ctx.params, ttlSeconds: ctx.params.ttlSeconds ?? MAX_TICKET_TTL_S });
      },
      async redeem(ctx) {
        return (await redeemTicket(fork(), ctx.params.ticket)) ?? null;
      },
    }),

    events: {},

    methods: {},
  };
}
