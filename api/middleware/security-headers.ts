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

/**
 * The dashboard's pages (api/static.ts): scripts and stylesheets only from our own origin, no inline
 * script or style anywhere. uPlot's styles and ours are bundled .css files; CodeMirror's are
 * constructable stylesheets adopted by the shadow root the editor is mounted in (web/src/pages/
 * exercise.ts), which style-src does not govern; element.style writes through the CSSOM are not inline
 * styles in CSP's sense. 'self' in connect-src also matches the same-origin ws:/wss: URL (CSP Level 3
 * "Does url match expression in origin with redirect count?"). data:/blob: images for the favicon
 * placeholder and downloads.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

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
