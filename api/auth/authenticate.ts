import { createSecretKey } from "node:crypto";
import type { Middleware } from "koa";
import koaJwt from "koa-jwt";
import type { Role } from "../../contracts/roles.ts";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors.ts";
import { isUuid } from "../../lib/uuid.ts";
import type { ApiState } from "../context.ts";
import type { AuthStateCache } from "./auth-state-cache.ts";

/**
 * Access-token authentication. koa-jwt verifies the signature with the algorithm pinned to HS256
 * (so `alg: none` and algorithm-confusion tokens fail), and the issuer and audience; `exp` must be
 * present (jsonwebtoken checks it only when it is there) and the subject must still be an enabled
 * account — its current role, not the token's, is what authorisation uses.
 */
export interface AuthenticateOptions {
  secret: string;
  issuer: string;
  audience: string;
  authStates: AuthStateCache;
}

function invalidToken(detail = "the access token is invalid or expired"): UnauthorizedError {
  return new UnauthorizedError(detail, { bearerError: "invalid_token" });
}

export function authenticate(opts: AuthenticateOptions): Middleware<ApiState> {
  const verify = koaJwt({
    // A KeyObject, made once: given a string, jsonwebtoken first tries (and fails) to parse it as a
    // public key and then builds a secret key, on every request — most of the cost of verifying.
    secret: createSecretKey(Buffer.from(opts.secret)) as unknown as Buffer,
    algorithms: ["HS256"],
    issuer: opts.issuer,
    audience: opts.audience,
    key: "jwt",
  });
  return async (ctx, next) => {
    if (!ctx.get("authorization")) {
      throw new UnauthorizedError("this endpoint needs an access token: Authorization: Bearer <token>");
    }
    try {
      await verify(ctx as never, async () => {});
    } catch (err) {
      if ((err as { status?: number }).status === 401) {
        ctx.state.log.debug(
          { reason: (err as { originalError?: Error }).originalError?.message },
          "token refused",
        );
        throw invalidToken();
      }
      throw err;
    }
    const claims = (ctx.state as unknown as { jwt?: Record<string, unknown> }).jwt;
    if (typeof claims?.["exp"] !== "number") throw invalidToken("the access token has no expiry");
    const sub = claims["sub"];
    if (!isUuid(sub)) throw invalidToken();
    const state = await opts.authStates.get(sub);
    if (!state.exists || state.disabled || state.role === null || state.account === null) {
      throw invalidToken("the account is disabled or no longer exists");
    }
    ctx.state.user = { id: sub, role: state.role, account: state.account };
    await next();
  };
}

/** 403 unless the authenticated caller holds one of `roles`. */
export function requireRole(roles: readonly Role[]): Middleware<ApiState> {
  return async (ctx, next) => {
    const role = ctx.state.user?.role;
    if (!role || !roles.includes(role)) {
      throw new ForbiddenError(`this needs the ${roles.join(" or ")} role`);
    }
    await next();
  };
}
