import { z } from "zod";
import {
  NewAccountSchema,
  type PublicUser,
  PublicUserSchema,
  type TokenPair,
  TokenPairSchema,
} from "../../services/users/schemas.ts";
import type { ApiDeps } from "../context.ts";
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
    summary: "Create an account (role learner).",
    description: "The password needs at least 8 characters and must not be a commonly used one.",
    tags: ["auth"],
    access: "public",
    body: NewAccountSchema,
    responses: {
      201: { description: "Created.", schema: PublicUserSchema },
      409: { description: "An account with this email (in any case) exists." },
    },
    async handler(ctx, { body }) {
      const user = await callService<PublicUser>(deps, ctx, "users.register", body);
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
      "After LOGIN_MAX_FAILURES_PER_ACCOUNT failed attempts on one account (or LOGIN_MAX_FAILURES_PER_IP from one address) " +
      "within LOGIN_FAILURE_WINDOW_S, every attempt is refused with 429 until the window ends.",
    tags: ["auth"],
    access: "public",
    body: LoginSchema,
    responses: {
      200: { description: "Logged in.", schema: TokenPairSchema },
      401: { description: "Wrong email or password." },
      403: { description: "The account is disabled." },
    },
    async handler(ctx, { body }) {
      ctx.body = await callService<TokenPair>(deps, ctx, "users.login", { ...body, ip: ctx.ip });
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
      ctx.body = await callService<TokenPair>(deps, ctx, "users.refresh", body);
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
}
