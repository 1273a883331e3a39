import type { Middleware } from "koa";
import type { ApiState } from "../context.ts";

/**
 * Security headers for an API that serves JSON (OWASP REST Security Cheat Sheet, "Security headers"):
 * nothing it returns should ever run as a document, be framed or be sniffed into another type. A
 * route that serves HTML (the docs page) replaces the CSP with its own. HSTS only in production, where
 * TLS is terminated in front of the API; on a developer's plain-HTTP localhost it would be ignored at
 * best. Responses are not cached by default: they carry tokens and per-user data.
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export function securityHeaders(opts: { production: boolean }): Middleware<ApiState> {
  return async (ctx, next) => {
    ctx.set("Content-Security-Policy", API_CSP);
    ctx.set("X-Content-Type-Options", "nosniff");
    ctx.set("X-Frame-Options", "DENY");
    ctx.set("Referrer-Policy", "no-referrer");
    ctx.set("Cross-Origin-Resource-Policy", "same-site");
    ctx.set("Cache-Control", "no-store");
    if (opts.production) ctx.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    await next();
  };
}
