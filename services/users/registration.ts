import { createHash, randomBytes } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Config } from "../../config.ts";
import { Invite } from "../../db/entities/Invite.ts";
import type { User } from "../../db/entities/User.ts";
import { ForbiddenError, RateLimitedError } from "../../lib/errors.ts";
import { createUser } from "./accounts.ts";
import { type LimitStore, limitKey } from "./limit-store.ts";

/**
 * Who may create an account (issue 15, finding 8: anonymous registration was limited only by the
 * general per-address request rate, and each account brings its own quotas):
 *
 * - REGISTRATION=open: anyone registers (role learner);
 * - REGISTRATION=invite: a registration needs an invite code that an admin created (`POST /invites`),
 *   valid and unused; it is spent in the transaction that creates the account, so a refused
 *   registration (weak password, email taken) leaves it unspent, and two cannot both spend it;
 * - REGISTRATION=closed: only admins create accounts (`POST /users`, `proxima users create`).
 *
 * In every mode, one client address may try REGISTRATIONS_PER_IP_PER_HOUR registrations an hour
 * (counted in PostgreSQL, across replicas), refused or not — it also bounds probing which emails exist.
 */
export type RegistrationSettings = Pick<Config, "REGISTRATION" | "REGISTRATIONS_PER_IP_PER_HOUR">;

export interface RegistrationInput {
  email: string;
  password: string;
  name: string;
  invite?: string;
  ip?: string;
}

const HOUR_MS = 3_600_000;

export async function register(
  em: EntityManager,
  store: LimitStore,
  settings: RegistrationSettings,
  input: RegistrationInput,
): Promise<User> {
  if (settings.REGISTRATION === "closed") {
    throw new ForbiddenError("registration is closed on this server: an admin creates accounts", {
      limit: "REGISTRATION",
      value: "closed",
    });
  }
  if (input.ip !== undefined) await countAttempt(store, settings, input.ip);
  const account = { email: input.email, password: input.password, name: input.name };
  if (settings.REGISTRATION === "open") return createUser(em, account);

  const invite = input.invite;
  if (invite === undefined) {
    throw new ForbiddenError("registration needs an invite code from an admin", {
      limit: "REGISTRATION",
      value: "invite",
    });
  }
  return em.transactional(async (tx) => {
    const now = new Date();
    // Spent by one conditional update: of two registrations with one code, one matches the row.
    const spent = await tx.nativeUpdate(
      Invite,
      { codeHash: hashInviteCode(invite), usedAt: null, expiresAt: { $gt: now } },
      { usedAt: now },
    );
    if (spent === 0) throw new ForbiddenError("the invite code is unknown, used or expired");
    const user = await createUser(tx, account);
    await tx.nativeUpdate(Invite, { codeHash: hashInviteCode(invite) }, { usedBy: user.id });
    return user;
  });
}

async function countAttempt(store: LimitStore, settings: RegistrationSettings, ip: string): Promise<void> {
  const count = await store.hit(limitKey("register-ip", ip), HOUR_MS);
  const max = settings.REGISTRATIONS_PER_IP_PER_HOUR;
  if (count.points > max) {
    const err = new RateLimitedError(
      `too many registrations from this address: at most ${max} an hour (REGISTRATIONS_PER_IP_PER_HOUR)`,
      (count.expiresAt - store.now()) / 1000,
    );
    err.data = {
      ...(err.data as Record<string, unknown>),
      limit: "REGISTRATIONS_PER_IP_PER_HOUR",
      value: max,
    };
    throw err;
  }
}

export interface NewInvite {
  /** Shown once: only its digest is stored. */
  code: string;
  expiresAt: string;
}

/** An admin's invite, valid for `expiresInHours`. */
export async function createInvite(
  em: EntityManager,
  adminId: string,
  expiresInHours: number,
): Promise<NewInvite> {
  const code = `inv_${randomBytes(24).toString("base64url")}`;
  const expiresAt = new Date(Date.now() + expiresInHours * HOUR_MS);
  em.create(Invite, { codeHash: hashInviteCode(code), createdBy: adminId, expiresAt });
  await em.flush();
  return { code, expiresAt: expiresAt.toISOString() };
}

export function hashInviteCode(code: string): string {
  return createHash("sha256").update(code, "utf8").digest("hex");
}
