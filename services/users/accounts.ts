import { type EntityManager, LockMode, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import type { Role } from "../../contracts/roles.ts";
import type { PublicUser } from "../../contracts/users.ts";
import { RefreshToken } from "../../db/entities/RefreshToken.ts";
import { normalizeEmail, User } from "../../db/entities/User.ts";
import { isStorableText } from "../../lib/cursor.ts";
import { ConflictError, NotFoundError, ValidationFailedError } from "../../lib/errors.ts";
import { assertAcceptablePassword, hashPassword } from "./passwords.ts";

/**
 * Accounts: creation, lookup, listing and the changes an admin may make. Every function works on the
 * EntityManager fork of its caller (one per action or CLI command) and never on a global one.
 */
export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

export interface NewUserInput {
  email: string;
  password: string;
  name: string;
  role?: Role;
}

/** Creates an account; 422 for a weak password, 409 when the email (in any case) is taken. */
export async function createUser(em: EntityManager, input: NewUserInput): Promise<User> {
  const email = normalizeEmail(input.email);
  const name = input.name.trim();
  if (name.length === 0)
    throw new ValidationFailedError("the name is empty", [{ field: "name", message: "is empty" }]);
  assertAcceptablePassword(input.password, { email, name });
  if ((await em.count(User, { email })) > 0) throw emailTaken();
  const user = em.create(User, {
    email,
    name,
    role: input.role ?? "learner",
    passwordHash: await hashPassword(input.password),
    disabled: false,
  });
  try {
    await em.flush();
  } catch (err) {
    // Two registrations of one email at once: the unique index decides, the loser gets the same 409.
    if (err instanceof UniqueConstraintViolationException) throw emailTaken();
    throw err;
  }
  return user;
}

function emailTaken(): ConflictError {
  return new ConflictError("an account with this email already exists", { field: "email" });
}

export function findUserByEmail(em: EntityManager, email: string): Promise<User | null> {
  return em.findOne(User, { email: normalizeEmail(email) });
}

export async function getUser(em: EntityManager, id: string): Promise<User> {
  const user = await em.findOne(User, { id });
  if (!user) throw new NotFoundError("user");
  return user;
}

export interface UserPage {
  items: PublicUser[];
  /** Pass it back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Keyset pagination ordered by email: emails are unique, so "after the last email seen" is an exact,
 * stable position however many users register meanwhile (no OFFSET drift, no skipped rows).
 */
export async function listUsers(
  em: EntityManager,
  opts: { limit: number; cursor?: string },
): Promise<UserPage> {
  const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
  const rows = await em.find(User, after === undefined ? {} : { email: { $gt: after } }, {
    orderBy: { email: "asc" },
    limit: opts.limit + 1,
  });
  const items = rows.slice(0, opts.limit).map(toPublicUser);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.email) : null };
}

export function encodeCursor(email: string): string {
  return Buffer.from(JSON.stringify({ e: email }), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { e?: unknown };
    if (typeof value.e === "string" && value.e.length > 0 && isStorableText(value.e)) return value.e;
  } catch {
    // fall through to the same 422 as a well-formed cursor of the wrong shape
  }
  throw new ValidationFailedError("the cursor is not one this API returned", [
    { field: "cursor", message: "is not a valid cursor" },
  ]);
}

export interface UserPatch {
  name?: string;
  role?: Role;
  disabled?: boolean;
}

/**
 * Applies an admin's change. Disabling an account also revokes its refresh tokens, so that it cannot
 * mint new access tokens; the last active admin cannot be demoted or disabled (nobody could undo it).
 */
export async function updateUser(em: EntityManager, id: string, patch: UserPatch): Promise<User> {
  return em.transactional(async (tx) => {
    // Serialises changes of roles and flags: two admins demoting each other at once must not both pass
    // the last-admin check.
    await tx.execute("SELECT pg_advisory_xact_lock(hashtext('proxima.users.admin-change'))");
    const user = await tx.findOne(User, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!user) throw new NotFoundError("user");
    const staysActiveAdmin = (patch.role ?? user.role) === "admin" && !(patch.disabled ?? user.disabled);
    if (user.role === "admin" && !user.disabled && !staysActiveAdmin) {
      const otherAdmins = await tx.count(User, { role: "admin", disabled: false, id: { $ne: id } });
      if (otherAdmins === 0) {
        throw new ConflictError("this is the last active admin; make another admin first", { field: "role" });
      }
    }
    if (patch.name !== undefined) user.name = patch.name.trim();
    if (patch.role !== undefined) user.role = patch.role;
    if (patch.disabled !== undefined) user.disabled = patch.disabled;
    if (patch.disabled === true) {
      await tx.nativeUpdate(RefreshToken, { user: id, revokedAt: null }, { revokedAt: new Date() });
    }
    return user;
  });
}

export type BootstrapOutcome = "created" | "admin-exists" | "email-taken";

/**
 * The first admin, from PROXIMA_ADMIN_EMAIL / PROXIMA_ADMIN_PASSWORD. Idempotent and conservative: it
 * does nothing when any admin exists, and never touches an existing account (nor its password).
 */
export async function ensureBootstrapAdmin(
  em: EntityManager,
  admin: { email: string; password: string; name?: string },
): Promise<BootstrapOutcome> {
  if ((await em.count(User, { role: "admin" })) > 0) return "admin-exists";
  if (await findUserByEmail(em, admin.email)) return "email-taken";
  try {
    await createUser(em, {
      email: admin.email,
      password: admin.password,
      name: admin.name ?? "Admin",
      role: "admin",
    });
  } catch (err) {
    // Another replica bootstrapped the same admin at the same moment.
    if (err instanceof ConflictError) return "admin-exists";
    throw err;
  }
  return "created";
}
