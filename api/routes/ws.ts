import { z } from "zod";
import { MAX_TICKET_TTL_S } from "../../services/tickets/tickets.ts";
import type { ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/**
 * Live metrics over WebSockets. The socket itself is served by the hub (api/ws/hub.ts) on the HTTP
 * server's `upgrade` event; these routes document it and issue the tickets browsers connect with.
 */
const Ticket = z
  .object({
    ticket: z.string().describe("Pass as `?ticket=` on `GET /api/v1/ws`; valid once."),
    expiresIn: z.number().int().describe(`Seconds the ticket stays valid (at most ${MAX_TICKET_TTL_S}).`),
  })
  .meta({ title: "WsTicket" });

export function wsRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/ws/tickets",
    operationId: "createWsTicket",
    summary: "A short-lived, single-use ticket to open the WebSocket from a browser.",
    description:
      "Browsers cannot set an Authorization header on a WebSocket upgrade, and access tokens never go " +
      "in URLs: ask for a ticket with the token, then connect to `/api/v1/ws?ticket=<ticket>`. The " +
      "socket lives until the access token that asked for the ticket expires.",
    tags: ["live"],
    access: "authenticated",
    responses: { 201: { description: "The ticket.", schema: Ticket } },
    async handler(ctx) {
      const claims = (ctx.state as unknown as { jwt: { exp: number } }).jwt;
      ctx.body = await callService(deps, ctx, "tickets.issue", {
        userId: ctx.state.user!.id,
        sessionExpiresAt: claims.exp * 1000,
      });
      ctx.status = 201;
    },
  });

  v1.add({
    method: "get",
    path: "/ws",
    operationId: "openWebSocket",
    summary: "The live-metrics WebSocket (upgrade only).",
    description:
      "Upgrade with `Authorization: Bearer <token>` or `?ticket=` (`POST /api/v1/ws/tickets`); a refused " +
      "upgrade answers 401/403 before any frame, and a token in the query is refused. Upgrades beyond " +
      "WS_MAX_CONNECTIONS_PER_USER open sockets or WS_UPGRADES_PER_MIN_PER_USER per user, or from an address past " +
      "WS_FAILED_UPGRADES_PER_MIN_PER_IP failed authentications, answer 429 (problem+json naming `limit` and " +
      "`value`, with Retry-After) before any frame. Send " +
      '`{"type":"subscribe","runId":…}` / `{"type":"unsubscribe","runId":…}`; receive `subscribed`, ' +
      "the run's latest stored point, then live `metrics` and `status` frames, and `error` frames for " +
      "bad messages or runs you may not see. The server pings every 30 s, drops a socket that does not " +
      "read, closes on frames over 4 KiB (1009), on more than 10 messages/s sustained (1008), when the " +
      "access token expires (4001) and when the account is disabled (4003).",
    tags: ["live"],
    access: "public",
    rateLimited: false,
    responses: {
      426: { description: "Not an upgrade request: this endpoint speaks WebSocket only." },
      429: { description: "An upgrade over a per-user or per-address WebSocket limit (named in `limit`)." },
    },
    handler(ctx) {
      ctx.set("Upgrade", "websocket");
      ctx.set("Connection", "Upgrade");
      ctx.status = 426;
      ctx.body = { detail: "this endpoint speaks WebSocket only: send an upgrade request" };
    },
  });
}
