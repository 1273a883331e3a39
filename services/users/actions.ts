import { z } from "zod";
import { QuotaOverrideSchema, type UserQuotas } from "../../contracts/quotas.ts";
import { ROLES } from "../../contracts/roles.ts";
import type { PublicUser, TokenPair } from "../../contracts/users.ts";
import { defineActions, returns } from "../action.ts";
import type { UserPage } from "./accounts.ts";
import type { NewInvite } from "./registration.ts";
import type { AuthState } from "./schemas.ts";

/** The users service's actions (users.service.ts): what each takes and gives. */
export const USERS_ACTIONS = defineActions({
  /** Self-registration, as REGISTRATION allows (services/users/registration.ts). */
  register: {
    params: z.object({
      email: z.string(),
      password: z.string(),
      name: z.string(),
      invite: z.string().optional(),
      ip: z.string().optional(),
    }),
    result: returns<PublicUser>(),
  },
  /** An account an admin creates, with any role (whatever REGISTRATION says). */
  create: {
    params: z.object({
      email: z.string(),
      password: z.string(),
      name: z.string(),
      role: z.enum(ROLES).optional(),
    }),
    result: returns<PublicUser>(),
  },
  /** An admin's invite code for REGISTRATION=invite. */
  createInvite: {
    params: z.object({ adminId: z.uuid(), expiresInHours: z.number().int().min(1).max(8760) }),
    result: returns<NewInvite>(),
  },
  login: {
    params: z.object({ email: z.string(), password: z.string(), ip: z.string().optional() }),
    result: returns<TokenPair>(),
  },
  refresh: { params: z.object({ refreshToken: z.string() }), result: returns<TokenPair>() },
  logout: { params: z.object({ refreshToken: z.string() }), result: returns<{ revoked: boolean }>() },
  /** Called by the API on every authenticated request (behind its short cache). */
  authState: { params: z.object({ id: z.uuid() }), result: returns<AuthState>() },
  get: { params: z.object({ id: z.uuid() }), result: returns<PublicUser>() },
  list: {
    params: z.object({ limit: z.number().int().min(1).max(100).optional(), cursor: z.string().optional() }),
    result: returns<UserPage>(),
  },
  /** An admin's change; broadcasts `users.changed` so that every API node drops its cached state. */
  update: {
    params: z.object({
      id: z.uuid(),
      name: z.string().optional(),
      role: z.enum(ROLES).optional(),
      disabled: z.boolean().optional(),
    }),
    result: returns<PublicUser>(),
  },
  /** A user's quotas: the role's, the override an admin set, and the effective one; 404 if unknown. */
  quotas: { params: z.object({ id: z.uuid() }), result: returns<UserQuotas>() },
  /** An admin replaces a user's override (every node's next check reads it: services/users/quotas.ts). */
  setQuotas: {
    params: z.object({ id: z.uuid(), adminId: z.uuid(), override: QuotaOverrideSchema }),
    result: returns<UserQuotas>(),
  },
  /** An admin drops a user's override: the role's quota applies again. */
  clearQuotas: { params: z.object({ id: z.uuid() }), result: returns<UserQuotas>() },
});
