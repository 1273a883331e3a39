import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { TokenPair } from "../../contracts/users.ts";
import { RefreshToken } from "../../db/entities/RefreshToken.ts";
import { normalizeEmail, type User } from "../../db/entities/User.ts";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import { findUserByEmail } from "./accounts.ts";
import type { LoginLimiter } from "./login-limiter.ts";
import { verifyAgainstDummy, verifyPassword } from "./passwords.ts";
import { hashRefreshToken, newRefreshToken, signAccessToken } from "./tokens.ts";

/**
 * Sessions: login, refresh-token rotation, logout.
 *
 * Rotation with reuse detection follows the OAuth 2.0 Security Best Current Practice (RFC 9700
 * §4.14.2): every refresh token works once and is replaced by a new one of the same family (one
 * family per login). Presenting a token that was already used means that two parties hold it — the
 * client and a thief — so the whole family is revoked and both must log in again.
 */
export interface SessionSettings {
  secret: string;
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
}

export interface SessionDeps {
  settings: SessionSettings;
  limiter: LoginLimiter;
  logger: Logger;
}

const WRONG_CREDENTIALS = "wrong email or password";
const INVALID_REFRESH = "the refresh token is invalid, expired or revoked; log in again";

export async function login(
  em: EntityManager,
  deps: SessionDeps,
  input: { email: string; password: string; ip?: string },
): Promise<TokenPair> {
  const account = normalizeEmail(input.email);
  // The attempt's points are taken before the password is checked, so that a burst of parallel
  // guesses cannot slip past the budget while they are in flight; they come back on success...
  const attempt = await deps.limiter.begin(account, input.ip);
  let user: User | null;
  let ok: boolean;
  try {
    user = await findUserByEmail(em, account);
    ok = user
      ? await verifyPassword(user.passwordHash, input.password)
      : await verifyAgainstDummy(input.password);
  } catch (err) {
    // ...and when no verdict was reached: the node shed the hash, or the lookup or the hash failed.
    // No guess was checked, so none is counted; an outage must not leave learners locked out after
    // it. Best effort: the refund may fail for the same reason, and the caller needs the first error.
    await deps.limiter.abandoned(attempt).catch(() => undefined);
    throw err;
  }
  if (!user || !ok) throw new UnauthorizedError(WRONG_CREDENTIALS);
  // Said only to someone who knows the password, so it reveals nothing to a guesser.
  if (user.disabled) throw new ForbiddenError("this account is disabled");
  await deps.limiter.succeeded(attempt);
  return issueTokens(em, deps.settings, user, randomUUID());
}

export async function refresh(em: EntityManager, deps: SessionDeps, token: string): Promise<TokenPair> {
  const row = await em.findOne(RefreshToken, { tokenHash: hashRefreshToken(token) });
  const now = new Date();
  if (!row || row.revokedAt) throw new UnauthorizedError(INVALID_REFRESH);
  if (row.usedAt) {
    await revokeFamily(em, row.familyId, now);
    deps.logger.warn({ familyId: row.familyId, userId: row.user.id }, "refresh token reused: family revoked");
    throw new UnauthorizedError(INVALID_REFRESH);
  }
  if (row.expiresAt <= now) throw new UnauthorizedError(INVALID_REFRESH);
  // Claimed with a conditional update: of two concurrent uses of one token, exactly one wins and the
  // other is treated as the reuse it is.
  const claimed = await em.nativeUpdate(
    RefreshToken,
    { id: row.id, usedAt: null, revokedAt: null },
    { usedAt: now },
  );
  if (claimed === 0) {
    await revokeFamily(em, row.familyId, now);
    throw new UnauthorizedError(INVALID_REFRESH);
  }
  const user = await row.user.load();
  if (!user || user.disabled) {
    await revokeFamily(em, row.familyId, now);
    throw new UnauthorizedError(INVALID_REFRESH);
  }
  return issueTokens(em, deps.settings, user, row.familyId);
}

/** Revokes the family of the given token. Unknown tokens are ignored: logging out twice is not an error. */
export async function logout(em: EntityManager, token: string): Promise<boolean> {
  const row = await em.findOne(RefreshToken, { tokenHash: hashRefreshToken(token) });
  if (!row) return false;
  await revokeFamily(em, row.familyId, new Date());
  return true;
}

async function revokeFamily(em: EntityManager, familyId: string, at: Date): Promise<void> {
  await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: at });
}

async function issueTokens(
  em: EntityManager,
  settings: SessionSettings,
  user: User,
  familyId: string,
): Promise<TokenPair> {
  const { token, tokenHash } = newRefreshToken();
  em.create(RefreshToken, {
    user,
    tokenHash,
    familyId,
    expiresAt: new Date(Date.now() + settings.refreshTtlSeconds * 1000),
  });
  await em.flush();
  const accessToken = signAccessToken(
    { sub: user.id, role: user.role },
    {
      secret: settings.secret,
      issuer: settings.issuer,
      audience: settings.audience,
      ttlSeconds: settings.accessTtlSeconds,
    },
  );
  return { accessToken, refreshToken: token, expiresIn: settings.accessTtlSeconds, tokenType: "Bearer" };
}
