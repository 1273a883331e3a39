import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Role } from "../../contracts/roles.ts";

/**
 * Access tokens are JWTs (RFC 7519) signed with HS256 (RFC 7518 §3.2): base64url(header) "."
 * base64url(payload) "." base64url(HMAC-SHA256(secret, first two parts)). The API verifies them with
 * koa-jwt, the algorithm pinned. Refresh tokens are opaque random strings, stored only hashed.
 */
export interface AccessTokenClaims {
  sub: string;
  role: Role;
}

export interface AccessTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** Seconds since the epoch; a parameter so that tests can mint expired tokens through the same code. */
  now?: number;
}

const HEADER = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

export function signAccessToken(claims: AccessTokenClaims, opts: AccessTokenOptions): string {
  const iat = opts.now ?? Math.floor(Date.now() / 1000);
  const payload = base64url(
    JSON.stringify({
      sub: claims.sub,
      role: claims.role,
      iss: opts.issuer,
      aud: opts.audience,
      iat,
      exp: iat + opts.ttlSeconds,
    }),
  );
  const signature = createHmac("sha256", opts.secret).update(`${HEADER}.${payload}`).digest("base64url");
  return `${HEADER}.${payload}.${signature}`;
}

/** 32 random bytes: 256 bits, beyond guessing; the value is shown once and only its hash is kept. */
export function newRefreshToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, tokenHash: hashRefreshToken(token) };
}

/**
 * SHA-256 without a salt is enough here: the input is 256 random bits, not a password, so there is no
 * dictionary to precompute; the digest only keeps a leaked table from holding usable tokens.
 */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
