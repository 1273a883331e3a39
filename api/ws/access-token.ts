import { createHmac, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "../../lib/errors.ts";
import { isUuid } from "../../lib/uuid.ts";

/**
 * Verifies an access token presented on a WebSocket upgrade, where there is no Koa context for
 * koa-jwt to work on. It applies the same rules as the HTTP API: a JWS compact serialization
 * (RFC 7515 §7.1) whose header names HS256 and nothing else (so `alg: none` and algorithm-confusion
 * tokens fail), an HMAC-SHA256 signature over `header.payload` (RFC 7518 §3.2) compared in constant
 * time, the issuer and audience (RFC 7519 §4.1.1, §4.1.3), a mandatory `exp` in the future and an
 * `nbf`, when present, in the past (§4.1.4–4.1.5), and a UUID subject.
 */
export interface AccessTokenCheck {
  secret: string;
  issuer: string;
  audience: string;
  /** Milliseconds since the epoch; a parameter for tests. */
  nowMs?: number;
}

export interface VerifiedAccessToken {
  sub: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function invalidAccessToken(detail = "the access token is invalid or expired"): UnauthorizedError {
  return new UnauthorizedError(detail, { bearerError: "invalid_token" });
}

export function verifyAccessToken(token: string, check: AccessTokenCheck): VerifiedAccessToken {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) throw invalidAccessToken();
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart);
  if (header?.["alg"] !== "HS256") throw invalidAccessToken();

  const expected = createHmac("sha256", check.secret).update(`${headerPart}.${payloadPart}`).digest();
  const given = Buffer.from(signaturePart, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidAccessToken();

  const claims = decodeJson(payloadPart);
  if (!claims) throw invalidAccessToken();
  const nowSeconds = (check.nowMs ?? Date.now()) / 1000;
  if (claims["iss"] !== check.issuer) throw invalidAccessToken();
  const aud = claims["aud"];
  if (!(aud === check.audience || (Array.isArray(aud) && aud.includes(check.audience)))) {
    throw invalidAccessToken();
  }
  const exp = claims["exp"];
  if (typeof exp !== "number") throw invalidAccessToken("the access token has no expiry");
  if (exp <= nowSeconds) throw invalidAccessToken();
  const nbf = claims["nbf"];
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > nowSeconds)) throw invalidAccessToken();
  const sub = claims["sub"];
  if (!isUuid(sub)) throw invalidAccessToken();
  return { sub, expiresAt: exp * 1000 };
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
