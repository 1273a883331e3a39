import { z } from "zod";
import { defineActions, returns } from "../action.ts";
import { type IssuedTicket, MAX_TICKET_TTL_S, type RedeemedTicket } from "./tickets.ts";

/** The tickets service's actions (tickets.service.ts): what each takes and gives. */
export const TICKETS_ACTIONS = defineActions({
  /** The API has authenticated the caller; the ticket inherits the access token's expiry. */
  issue: {
    params: z.object({
      userId: z.uuid(),
      sessionExpiresAt: z.number().int().positive(),
      ttlSeconds: z.number().int().min(1).max(MAX_TICKET_TTL_S).optional(),
    }),
    result: returns<IssuedTicket>(),
  },
  /** `{ userId, sessionExpiresAt }`, or null for an unknown, used or expired ticket. */
  redeem: {
    params: z.object({ ticket: z.string().min(1).max(200) }),
    result: returns<RedeemedTicket | null>(),
  },
});
