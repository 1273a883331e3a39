import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Errors, type ServiceBroker } from "moleculer";
import type { Role } from "../../contracts/roles.ts";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors.ts";
import { call } from "../../services/actions.ts";
import type { AuthStateCache } from "../auth/auth-state-cache.ts";
import { BEARER_REALM, PROBLEM_CONTENT_TYPE } from "../middleware/problem.ts";
import { invalidAccessToken, verifyAccessToken } from "./access-token.ts";

/**
 * Authentication at the WebSocket upgrade, before any WebSocket frame: by `Authorization: Bearer`
 * or, for browsers (which cannot set headers on an upgrade), by a single-use ticket in `?ticket=`.
 * An access token in the URL is refused outright: URLs end up in proxy logs and browser history.
 * A refusal is a plain HTTP response (problem+json), never an upgrade followed by a close.
 */
export interface WsSession {
  userId: string;
  role: Role;
  /** When the access token behind the socket expires (ms since the epoch): the socket closes then. */
  expiresAt: number;
}

export interface UpgradeAuthDeps {
  broker: ServiceBroker;
  jwtSecret: string;
  issuer: string;
  audience: string;
  authStates: AuthStateCache;
  /** Origins allowed besides the API's own (CORS_ORIGINS); a request without Origin is not a browser's. */
  allowedOrigins: readonly string[];
}

const TOKEN_QUERY_KEYS = ["token", "access_token", "accessToken", "jwt"];

export async function authenticateUpgrade(
  req: IncomingMessage,
  url: URL,
  deps: UpgradeAuthDeps,
): Promise<WsSession> {
  if (TOKEN_QUERY_KEYS.some((key) => url.searchParams.has(key))) {
    throw new UnauthorizedError(
      "access tokens never go in URLs: use the Authorization header, or a ticket from POST /api/v1/ws/tickets",
      { bearerError: "invalid_request" },
    );
  }
  checkOrigin(req, deps.allowedOrigins);

  const header = req.headers.authorization;
  const ticket = url.searchParams.get("ticket");
  let userId: string;
  let expiresAt: number;
  if (header) {
    const match = /^Bearer +([^ ]+) *$/i.exec(header);
    if (!match) throw invalidAccessToken("the Authorization header must be: Bearer <token>");
    const verified = verifyAccessToken(match[1]!, {
      secret: deps.jwtSecret,
      issuer: deps.issuer,
      audience: deps.audience,
    });
    userId = verified.sub;
    expiresAt = verified.expiresAt;
  } else if (ticket) {
    const redeemed = await call(deps.broker, "tickets.redeem", { ticket }).catch((err: unknown) => {
      // A malformed ticket (too long) fails the action's schema: it is an invalid ticket like any other.
      if ((err as { type?: unknown }).type === "VALIDATION_FAILED") return null;
      throw err;
    });
    if (!redeemed) {
      throw new UnauthorizedError("the ticket is unknown, used or expired", { bearerError: "invalid_token" });
    }
    userId = redeemed.userId;
    expiresAt = redeemed.sessionExpiresAt;
  } else {
    throw new UnauthorizedError(
      "the WebSocket needs an Authorization: Bearer header or a ?ticket= from POST /api/v1/ws/tickets",
    );
  }

  const state = await deps.authStates.get(userId);
  if (!state.exists || state.disabled || state.role === null) {
    throw invalidAccessToken("the account is disabled or no longer exists");
  }
  return { userId, role: state.role, expiresAt };
}

/**
 * A browser sends Origin on every upgrade; a page of another site must not open a socket with the
 * user's ticket (cross-site WebSocket hijacking needs cookies, which Proxima does not use, but a
 * leaked ticket should not be usable from anywhere either).
 */
function checkOrigin(req: IncomingMessage, allowed: readonly string[]): void {
  const origin = req.headers.origin;
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ForbiddenError("the Origin header is not a URL");
  }
  if (host === req.headers.host || allowed.includes(origin)) return;
  throw new ForbiddenError(`WebSocket connections from ${origin} are not allowed`);
}

/** What a refused upgrade answers: the status and problem type the HTTP API would give. */
export interface Refusal {
  status: number;
  type: string;
  detail: string;
  /** `retryAfter` (seconds) becomes Retry-After; `limit` and `value` name a limit that refused. */
  data?: Record<string, unknown>;
}

export function refusalOf(err: unknown): Refusal {
  if (err instanceof Errors.MoleculerError) {
    if (err.code >= 400 && err.code < 500) {
      return {
        status: err.code,
        type: err.type,
        detail: err.message,
        data: err.data as Record<string, unknown>,
      };
    }
    return {
      status: 503,
      type: "SERVICE_UNAVAILABLE",
      detail: "a service needed for this request is unavailable",
    };
  }
  return { status: 500, type: "INTERNAL", detail: "an unexpected error occurred" };
}

/** Writes an HTTP error response on the raw socket of a refused upgrade, then ends it. */
export function writeRefusal(socket: Duplex, path: string, refusal: Refusal): void {
  if (socket.destroyed || !socket.writable) return;
  const title = STATUS_CODES[refusal.status] ?? "Error";
  const { limit, value, retryAfter } = refusal.data ?? {};
  const body = JSON.stringify({
    type: `urn:proxima:problem:${refusal.type.toLowerCase().replaceAll("_", "-")}`,
    title,
    status: refusal.status,
    detail: refusal.detail,
    instance: path,
    ...(typeof limit === "string" ? { limit, value } : {}),
    ...(typeof retryAfter === "number" ? { retryAfter } : {}),
  });
  const headers = [
    `HTTP/1.1 ${refusal.status} ${title}`,
    "Connection: close",
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (typeof retryAfter === "number") headers.push(`Retry-After: ${retryAfter}`);
  if (refusal.status === 401) {
    const error = refusal.data?.["bearerError"];
    headers.push(
      typeof error === "string"
        ? `WWW-Authenticate: Bearer realm="${BEARER_REALM}", error="${error}"`
        : `WWW-Authenticate: Bearer realm="${BEARER_REALM}"`,
    );
  }
  socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
}
