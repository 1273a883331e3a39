import type { ServiceSchema } from "moleculer";
import { User } from "../db/entities/User.ts";
import { ValidationFailedError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { implement } from "./action.ts";
import type { ServiceDeps } from "./deps.ts";
import { roleQuotas } from "./runs/quotas.ts";
import {
  createUser,
  ensureBootstrapAdmin,
  getUser,
  listUsers,
  toPublicUser,
  updateUser,
} from "./users/accounts.ts";
import { USERS_ACTIONS } from "./users/actions.ts";
import { HashGate } from "./users/hash-gate.ts";
import { resolveJwtSecret } from "./users/jwt-secret.ts";
import { LoginLimiter } from "./users/login-limiter.ts";
import { setHashGate } from "./users/passwords.ts";
import { clearOverride, setOverride, userQuotas } from "./users/quotas.ts";
import { createInvite, register } from "./users/registration.ts";
import { login, logout, refresh, type SessionDeps } from "./users/sessions.ts";

/**
 * Accounts and sessions. Thin: each action takes its own EntityManager fork and delegates to
 * `services/users/`. Its actions' params and results are declared in users/actions.ts, the contract
 * with any caller in the cluster (the API validates requests before calling, and so does each action).
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
  const quotas = roleQuotas(config);
  const sessionDeps = (): SessionDeps => {
    if (!sessions) throw new Error("users service is not started");
    return sessions;
  };

  return {
    name: "users",

    settings: {},

    dependencies: [],

    actions: implement(USERS_ACTIONS, {
      register(ctx) {
        return register(fork(), sessionDeps().limiter.store, config, ctx.params).then(toPublicUser);
      },
      async create(ctx) {
        return toPublicUser(await createUser(fork(), ctx.params));
      },
      createInvite(ctx) {
        return createInvite(fork(), ctx.params.adminId, ctx.params.expiresInHours);
      },
      login(ctx) {
        return login(fork(), sessionDeps(), ctx.params);
      },
      refresh(ctx) {
        return refresh(fork(), sessionDeps(), ctx.params.refreshToken);
      },
      async logout(ctx) {
        return { revoked: await logout(fork(), ctx.params.refreshToken) };
      },
      async authState(ctx) {
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
      async get(ctx) {
        return toPublicUser(await getUser(fork(), ctx.params.id));
      },
      list(ctx) {
        return listUsers(fork(), { limit: ctx.params.limit ?? 50, cursor: ctx.params.cursor });
      },
      async update(ctx) {
        const { id, ...patch } = ctx.params;
        const user = toPublicUser(await updateUser(fork(), id, patch));
        const payload: UsersChangedPayload = { id };
        await ctx.broadcast(USERS_CHANGED_EVENT, payload);
        return user;
      },
      quotas(ctx) {
        return userQuotas(fork(), quotas, ctx.params.id);
      },
      setQuotas(ctx) {
        const { id, adminId, override } = ctx.params;
        return setOverride(fork(), quotas, { userId: id, adminId, override });
      },
      clearQuotas(ctx) {
        return clearOverride(fork(), quotas, ctx.params.id);
      },
    }),

    events: {},

    methods: {},

    async started() {
      const secret = await resolveJwtSecret(config, deps.logger);
      const limiter = await LoginLimiter.open(db.url, config);
      setHashGate(
        new HashGate({
          concurrency: config.PASSWORD_HASH_CONCURRENCY,
          maxQueue: config.PASSWORD_HASH_QUEUE,
          maxWaitMs: config.PASSWORD_HASH_MAX_WAIT_MS,
        }),
      );
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
