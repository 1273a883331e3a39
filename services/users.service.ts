import type { Context, ServiceSchema } from "moleculer";
import { ROLES, type Role } from "../contracts/roles.ts";
import { User } from "../db/entities/User.ts";
import { ValidationFailedError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { ServiceDeps } from "./deps.ts";
import {
  createUser,
  ensureBootstrapAdmin,
  getUser,
  listUsers,
  toPublicUser,
  type UserPatch,
  updateUser,
} from "./users/accounts.ts";
import { resolveJwtSecret } from "./users/jwt-secret.ts";
import { LoginLimiter } from "./users/login-limiter.ts";
import { createInvite, type RegistrationInput, register } from "./users/registration.ts";
import type { AuthState } from "./users/schemas.ts";
import { login, logout, refresh, type SessionDeps } from "./users/sessions.ts";

/**
 * Accounts and sessions. Thin: each action takes its own EntityManager fork and delegates to
 * `services/users/`. The API validates requests with zod before calling; the params here are the
 * service's own contract with any caller in the cluster.
 *
 * Actions are "public" (callable from other nodes, never auto-published by a gateway) rather than
 * "protected": Moleculer does not register protected actions for remote nodes, and the API may run in
 * another process than this service.
 */
export const USERS_CHANGED_EVENT = "users.changed";

export interface UsersChangedPayload {
  id: string;
}

export default function usersService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  const logger = deps.logger.child({ svc: "users" });
  let sessions: SessionDeps | undefined;
  const fork = () => db.orm.em.fork();
  const sessionDeps = (): SessionDeps => {
    if (!sessions) throw new Error("users service is not started");
    return sessions;
  };

  return {
    name: "users",

    settings: {},

    dependencies: [],

    actions: {
      /** Self-registration, as REGISTRATION allows (services/users/registration.ts). */
      register: {
        visibility: "public",
        params: {
          email: "string",
          password: "string",
          name: "string",
          invite: { type: "string", optional: true },
          ip: { type: "string", optional: true },
        },
        async handler(ctx: Context<RegistrationInput>) {
          const store = sessionDeps().limiter.store;
          return toPublicUser(await register(fork(), store, config, ctx.params));
        },
      },

      /** An account an admin creates, with any role (whatever REGISTRATION says). */
      create: {
        visibility: "public",
        params: {
          email: "string",
          password: "string",
          name: "string",
          role: { type: "enum", values: [...ROLES], optional: true },
        },
        async handler(ctx: Context<{ email: string; password: string; name: string; role?: Role }>) {
          return toPublicUser(await createUser(fork(), ctx.params));
        },
      },

      /** An admin's invite code for REGISTRATION=invite. */
      createInvite: {
        visibility: "public",
        params: { adminId: "uuid", expiresInHours: { type: "number", integer: true, min: 1, max: 8760 } },
        handler(ctx: Context<{ adminId: string; expiresInHours: number }>) {
          return createInvite(fork(), ctx.params.adminId, ctx.params.expiresInHours);
        },
      },

      login: {
        visibility: "public",
        params: { email: "string", password: "string", ip: { type: "string", optional: true } },
        handler(ctx: Context<{ email: string; password: string; ip?: string }>) {
          return login(fork(), sessionDeps(), ctx.params);
        },
      },

      refresh: {
        visibility: "public",
        params: { refreshToken: "string" },
        handler(ctx: Context<{ refreshToken: string }>) {
          return refresh(fork(), sessionDeps(), ctx.params.refreshToken);
        },
      },

      logout: {
        visibility: "public",
        params: { refreshToken: "string" },
        async handler(ctx: Context<{ refreshToken: string }>) {
          return { revoked: await logout(fork(), ctx.params.refreshToken) };
        },
      },

      /** Called by the API on every authenticated request (behind its short cache). */
      authState: {
        visibility: "public",
        params: { id: "uuid" },
        async handler(ctx: Context<{ id: string }>): Promise<AuthState> {
          const user = await fork().findOne(User, { id: ctx.params.id });
          return user
            ? {
                id: ctx.params.id,
                exists: true,
                disabled: user.disabled,
                role: user.role,
                account: toPublicUser(user),
              }
            : { id: ctx.params.id, exists: false, disabled: true, role: null, account: null };
        },
      },

      get: {
        visibility: "public",
        params: { id: "uuid" },
        async handler(ctx: Context<{ id: string }>) {
          return toPublicUser(await getUser(fork(), ctx.params.id));
        },
      },

      list: {
        visibility: "public",
        params: {
          limit: { type: "number", integer: true, min: 1, max: 100, optional: true },
          cursor: { type: "string", optional: true },
        },
        handler(ctx: Context<{ limit?: number; cursor?: string }>) {
          return listUsers(fork(), { limit: ctx.params.limit ?? 50, cursor: ctx.params.cursor });
        },
      },

      /** An admin's change; broadcasts `users.changed` so that every API node drops its cached state. */
      update: {
        visibility: "public",
        params: {
          id: "uuid",
          name: { type: "string", optional: true },
          role: { type: "enum", values: [...ROLES], optional: true },
          disabled: { type: "boolean", optional: true },
        },
        async handler(ctx: Context<{ id: string } & UserPatch>) {
          const { id, ...patch } = ctx.params;
          const user = toPublicUser(await updateUser(fork(), id, patch));
          const payload: UsersChangedPayload = { id };
          await ctx.broadcast(USERS_CHANGED_EVENT, payload);
          return user;
        },
      },
    },

    events: {},

    methods: {},

    async started() {
      const secret = await resolveJwtSecret(config, deps.logger);
      const limiter = await LoginLimiter.open(db.url, config);
      sessions = {
        limiter,
        logger,
        settings: {
          secret,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          accessTtlSeconds: config.ACCESS_TOKEN_TTL_S,
          refreshTtlSeconds: config.REFRESH_TOKEN_TTL_S,
        },
      };
      try {
        await bootstrapAdmin(deps, logger);
      } catch (err) {
        // Moleculer does not call stopped() for a service whose start failed: release the pool here.
        await limiter.close();
        sessions = undefined;
        throw err;
      }
    },

    async stopped() {
      await sessions?.limiter.close();
      sessions = undefined;
    },
  };
}

async function bootstrapAdmin(deps: ServiceDeps, logger: Logger): Promise<void> {
  const { PROXIMA_ADMIN_EMAIL: email, PROXIMA_ADMIN_PASSWORD: password } = deps.config;
  if (!email && !password) return;
  if (!email || !password) {
    logger.warn(
      "set both PROXIMA_ADMIN_EMAIL and PROXIMA_ADMIN_PASSWORD to create the first admin; ignoring",
    );
    return;
  }
  const outcome = await ensureBootstrapAdmin(deps.db.orm.em.fork(), { email, password }).catch(
    (err: unknown) => {
      if (err instanceof ValidationFailedError) {
        const problems = (err.data as { errors: { field: string; message: string }[] }).errors;
        throw new Error(
          `PROXIMA_ADMIN_EMAIL/PROXIMA_ADMIN_PASSWORD rejected: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`,
        );
      }
      throw err;
    },
  );
  if (outcome === "created") logger.info({ email }, "created the first admin from PROXIMA_ADMIN_EMAIL");
  if (outcome === "email-taken") {
    logger.warn({ email }, "PROXIMA_ADMIN_EMAIL belongs to an existing non-admin account; left it unchanged");
  }
}
