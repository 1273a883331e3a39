import { z } from "zod";
import { PublicUserSchema, type TokenPair, TokenPairSchema } from "../../contracts/users.ts";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors.ts";
import { NewAccountSchema } from "../../services/users/schemas.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** Registration and sessions. Public routes; the users service does the work. */
const LoginSchema = z.strictObject({
  email: z.string().trim().min(1).max(254).describe("The account's email (any case)."),
  password: z.string().min(1).max(1024),
});

const RefreshTokenBody = z.strictObject({
  refreshToken: z.string().min(1).max(512).describe("The refresh token of the last login or refresh."),
});

export function authRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/auth/register",
    operationId: "register",
    summary: "Create an account (role learner), if the server's REGISTRATION allows it.",
    description:
      "The password needs at least 8 characters and must not be a commonly used one. REGISTRATION=open: anyone; " +
      "invite: with an unused, unexpired `invite` code from an admin (POST /invites); closed: refused with 403 " +
      "(admins create accounts with POST /users). At most REGISTRATIONS_PER_IP_PER_HOUR attempts per client address.",
    tags: ["auth"],
    access: "public",
    body: NewAccountSchema,
    responses: {
      201: { description: "Created.", schema: PublicUserSchema },
      403: {
        description: "Registration is closed, or the invite code is missing, unknown, used or expired.",
      },
      409: { description: "An account with this email (in any case) exists." },
    },
    async handler(ctx, { body }) {
      const user = await callService(deps, ctx, "users.register", { ...body, ip: ctx.ip });
      ctx.status = 201;
      ctx.set("Location", `/api/v1/users/${user.id}`);
      ctx.body = user;
    },
  });

  v1.add({
    method: "post",
    path: "/auth/login",
    operationId: "login",
    summary: "Exchange email and password for an access token and a refresh token.",
    description:
      "After LOGIN_MAX_FAILURES_PER_ACCOUNT failed attempts on one account from one client address, that client's attempts " +
      "on the account are refused with 429 until LOGIN_FAILURE_WINDOW_S ends; other clients are not. After " +
      "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL failures from any client, or LOGIN_MAX_FAILURES_PER_IP from one address across " +
      "accounts, clients that have not logged in to the account before are refused too. The 429 names the limit " +
      "(`limit`, `value`) and says when to retry (Retry-After). See docs/security.md.",
    tags: ["auth"],
    access: "public",
    body: LoginSchema,
    responses: {
      200: { description: "Logged in.", schema: TokenPairSchema },
      401: { description: "Wrong email or password." },
      403: { description: "The account is disabled." },
    },
    async handler(ctx, { body }) {
      ctx.body = await callService(deps, ctx, "users.login", { ...body, ip: ctx.ip });
    },
  });

  v1.add({
    method: "post",
    path: "/auth/refresh",
    operationId: "refresh",
    summary: "Exchange a refresh token for a new pair (rotation).",
    description:
      "Every refresh token works once. Presenting one again revokes every token of its login (reuse detection).",
    tags: ["auth"],
    access: "public",
    body: RefreshTokenBody,
    responses: {
      200: { description: "A new pair.", schema: TokenPairSchema },
      401: { description: "Unknown, expired, revoked or reused refresh token." },
    },
    async handler(ctx, { body }) {
      ctx.body = await callService(deps, ctx, "users.refresh", body);
    },
  });

  v1.add({
    method: "post",
    path: "/auth/logout",
    operationId: "logout",
    summary: "Revoke the refresh token and every token of its login.",
    description: "Idempotent. Access tokens already issued expire by themselves (ACCESS_TOKEN_TTL_S).",
    tags: ["auth"],
    access: "public",
    body: RefreshTokenBody,
    responses: { 204: { description: "Logged out." } },
    async handler(ctx, { body }) {
      await callService(deps, ctx, "users.logout", body);
      ctx.status = 204;
    },
  });

  sessionRoutes(v1, deps);
}

/**
 * Browser sessions (the dashboard): the refresh token lives in an httpOnly cookie that script cannot
 * read, scoped to these routes' path, and the access token only in the page's memory. SameSite=Strict
 * keeps other sites' requests from carrying the cookie; the custom header is a second CSRF guard (a
 * cross-origin request with a custom header needs a CORS preflight, which the allowlist refuses).
 * The JSON-body routes above stay as they are for the CLI and other non-browser clients.
 */
export const SESSION_PATH = "/api/v1/auth/session";
export const SESSION_COOKIE = "proxima_refresh";
export const SESSION_HEADER = "x-proxima-session";
/**
 * A script-readable flag (no secret in it) saying that a session cookie was set: a reloaded page
 * skips the refresh when there is none, instead of asking and logging a 401 on every fresh visit.
 */
export const SESSION_HINT_COOKIE = "proxima_session";

const AccessTokenSchema = z
  .object({
    accessToken: z.string().describe("JWT (HS256) to send as `Authorization: Bearer <token>`."),
    expiresIn: z.number().int().describe("Lifetime of the access token in seconds."),
    tokenType: z.literal("Bearer"),
  })
  .meta({ title: "AccessToken" });

function requireSessionHeader(ctx: ApiContext): void {
  if (ctx.get(SESSION_HEADER) !== "1") {
    throw new ForbiddenError(`browser session requests must carry the header ${SESSION_HEADER}: 1`);
  }
}

function setSessionCookie(ctx: ApiContext, deps: ApiDeps, pair: TokenPair): Omit<TokenPair, "refreshToken"> {
  ctx.cookies.set(SESSION_COOKIE, pair.refreshToken, {
    httpOnly: true,
    // Koa refuses a Secure cookie on a plain-HTTP request; behind TLS (or a trusted proxy saying so) it is set.
    secure: ctx.secure,
    sameSite: "strict",
    path: SESSION_PATH,
    maxAge: deps.config.REFRESH_TOKEN_TTL_S * 1000,
    overwrite: true,
  });
  ctx.cookies.set(SESSION_HINT_COOKIE, "1", {
    httpOnly: false,
    secure: ctx.secure,
    sameSite: "strict",
    path: "/",
    maxAge: deps.config.REFRESH_TOKEN_TTL_S * 1000,
    overwrite: true,
  });
  return { accessToken: pair.accessToken, expiresIn: pair.expiresIn, tokenType: pair.tokenType };
}

function clearSessionCookie(ctx: ApiContext): void {
  ctx.cookies.set(SESSION_COOKIE, null, {
    httpOnly: true,
    secure: ctx.secure,
    sameSite: "strict",
    path: SESSION_PATH,
    overwrite: true,
  });
  ctx.cookies.set(SESSION_HINT_COOKIE, null, {
    httpOnly: false,
    sameSite: "strict",
    path: "/",
    overwrite: true,
  });
}

export function sessionRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/auth/session",
    operationId: "loginSession",
    summary: "Browser login: the refresh token goes in an httpOnly cookie, the access token in the body.",
    description: `Needs the header \`${SESSION_HEADER}: 1\`. The cookie (\`${SESSION_COOKIE}\`, SameSite=Strict, Secure over HTTPS) is sent only to ${SESSION_PATH}/*. Same limits as /auth/login.`,
    tags: ["auth"],
    access: "public",
    body: LoginSchema,
    responses: {
      200: { description: "Logged in; the cookie is set.", schema: AccessTokenSchema },
      401: { description: "Wrong email or password." },
      403: { description: "The account is disabled, or the session header is missing." },
    },
    async handler(ctx, { body }) {
      requireSessionHeader(ctx);
      const pair = await callService(deps, ctx, "users.login", { ...body, ip: ctx.ip });
      ctx.body = setSessionCookie(ctx, deps, pair);
    },
  });

  v1.add({
    method: "post",
    path: "/auth/session/refresh",
    operationId: "refreshSession",
    summary: "Browser refresh: rotates the cookie's refresh token and returns a new access token.",
    description: `Needs the header \`${SESSION_HEADER}: 1\`. Reuse detection as /auth/refresh; a refused cookie is cleared.`,
    tags: ["auth"],
    access: "public",
    responses: {
      200: {
        description: "A new access token; the cookie holds the new refresh token.",
        schema: AccessTokenSchema,
      },
      401: { description: "No cookie, or an unknown, expired, revoked or reused refresh token." },
    },
    async handler(ctx) {
      requireSessionHeader(ctx);
      const refreshToken = ctx.cookies.get(SESSION_COOKIE);
      if (!refreshToken) throw new UnauthorizedError("no browser session: log in");
      try {
        const pair = await callService(deps, ctx, "users.refresh", { refreshToken });
        ctx.body = setSessionCookie(ctx, deps, pair);
      } catch (err) {
        clearSessionCookie(ctx);
        throw err;
      }
    },
  });

  v1.add({
    method: "post",
    path: "/auth/session/logout",
    operationId: "logoutSession",
    summary: "Browser logout: revokes the cookie's login and clears the cookie.",
    description: `Needs the header \`${SESSION_HEADER}: 1\`. Idempotent.`,
    tags: ["auth"],
    access: "public",
    responses: { 204: { description: "Logged out." } },
    async handler(ctx) {
      requireSessionHeader(ctx);
      const refreshToken = ctx.cookies.get(SESSION_COOKIE);
      if (refreshToken) await callService(deps, ctx, "users.logout", { refreshToken });
      clearSessionCookie(ctx);
      ctx.status = 204;
    },
  });
}
