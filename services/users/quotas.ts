import type { EntityManager } from "@mikro-orm/postgresql";
import { overlayQuota, QUOTA_KEYS, type QuotaKey, type QuotaOverride } from "../../contracts/quota-limits.ts";
import type { UserQuotas } from "../../contracts/quotas.ts";
import type { Caller, Role } from "../../contracts/roles.ts";
import { UserQuota } from "../../db/entities/UserQuota.ts";
import type { EffectiveQuota, RoleQuotas } from "../runs/quotas.ts";
import { getUser } from "./accounts.ts";

/**
 * Per-user quota overrides: an admin sets any subset of a user's limits; the rest stay the role's.
 * Nothing is cached: every quota check (run create and resume, sweep create and resume, each sweep
 * trial, each submission) reads the override with the request it decides, one primary-key lookup,
 * so a change made through any API node applies to the next request on every node, and no lost or
 * late broadcast can leave a node on the old limits.
 */

/** The limits a stored override sets, known keys only (a row written by a newer version keeps working). */
function storedOverride(row: UserQuota | null): QuotaOverride {
  if (!row) return {};
  const override: Record<string, number | boolean> = {};
  for (const key of QUOTA_KEYS) {
    const value = (row.limits as Record<string, unknown>)[key];
    if (typeof value === (key === "gpu" ? "boolean" : "number")) override[key] = value as number | boolean;
  }
  return override as QuotaOverride;
}

/** What applies to `caller`'s next request: their role's quota with their override on top. */
export async function effectiveQuota(
  em: EntityManager,
  quotas: RoleQuotas,
  caller: Caller,
): Promise<EffectiveQuota> {
  const override = storedOverride(await em.findOne(UserQuota, { user: caller.userId }));
  return { ...overlayQuota(quotas[caller.role], override), overridden: Object.keys(override) as QuotaKey[] };
}

/** A user's quotas as the API shows them; 404 for an unknown user. */
export async function userQuotas(em: EntityManager, quotas: RoleQuotas, userId: string): Promise<UserQuotas> {
  const user = await getUser(em, userId);
  const row = await em.findOne(UserQuota, { user: userId });
  const override = storedOverride(row);
  const roleQuota = quotas[user.role as Role];
  return {
    userId,
    role: user.role,
    roleQuota,
    override,
    effective: overlayQuota(roleQuota, override),
    updatedAt: row ? row.updatedAt.toISOString() : null,
  };
}

/**
 * Replaces a user's override (an empty one clears it). One upsert: two admins setting the same
 * user's quota at once end with one of their overrides whole, never a mix.
 */
export async function setOverride(
  em: EntityManager,
  quotas: RoleQuotas,
  /** `adminId`: who set it (null: `proxima users quota`, from the database's side). */
  input: { userId: string; adminId: string | null; override: QuotaOverride },
): Promise<UserQuotas> {
  await getUser(em, input.userId);
  if (Object.keys(input.override).length === 0) return clearOverride(em, quotas, input.userId);
  await em.execute(
    `insert into "user_quotas" ("user_id", "limits", "updated_by_id", "updated_at") values (?, ?::jsonb, ?, now())
     on conflict ("user_id") do update set "limits" = excluded."limits", "updated_by_id" = excluded."updated_by_id",
       "updated_at" = excluded."updated_at"`,
    [input.userId, JSON.stringify(input.override), input.adminId],
  );
  return userQuotas(em.fork(), quotas, input.userId);
}

/** Drops a user's override: the role's quota applies again. */
export async function clearOverride(
  em: EntityManager,
  quotas: RoleQuotas,
  userId: string,
): Promise<UserQuotas> {
  await getUser(em, userId);
  await em.nativeDelete(UserQuota, { user: userId });
  return userQuotas(em.fork(), quotas, userId);
}
