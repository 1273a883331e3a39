import cors from "@koa/cors";
import type { Middleware } from "koa";
import type { ApiState } from "../context.ts";

/**
 * CORS from the CORS_ORIGINS allowlist only. A wildcard is refused outright: the API authenticates
 * with bearer tokens, and a wildcard would let any page drive a logged-in user's browser session once
 * cookies or credentials join in. Requests from other origins get no CORS headers (the browser blocks
 * them); requests without an Origin header (curl, servers) are unaffected.
 */
export class CorsConfigError extends Error {
  override name = "CorsConfigError";
}

export function corsFromAllowlist(origins: readonly string[]): Middleware<ApiState> {
  if (origins.some((o) => o.includes("*"))) {
    throw new CorsConfigError(
      "CORS_ORIGINS must list exact origins (e.g. https://app.example.org); '*' is refused",
    );
  }
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, "")));
  return cors({
    origin: (ctx) => {
      const origin = ctx.get("Origin");
      return allowed.has(origin) ? origin : "";
    },
    credentials: true,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
    exposeHeaders: ["X-Request-Id", "Retry-After", "Location"],
    maxAge: 600,
  }) as Middleware<ApiState>;
}
