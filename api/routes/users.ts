import { z } from "zod";
import { QuotaOverrideSchema, UserQuotasSchema } from "../../contracts/quotas.ts";
import { PublicUserSchema } from "../../contracts/users.ts";
import { NotFoundError } from "../../lib/errors.ts";
import {
  EmailSchema,
  NameSchema,
  NewInviteSchema,
  PasswordSchema,
  RoleSchema,
} from "../../services/users/schemas.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** The caller's own account, and account administration. */
const UserIdParams = z.object({ id: z.uuid().describe("The user's id.") });

const UserListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).describe("Page size (1–100)."),
  cursor: z.string().min(1).max(512).optional().describe("`nextCursor` of the previous page."),
});

const UserPage = z
  .object({
    items: z.array(PublicUserSchema),
    nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
  })
  .meta({ title: "UserPage" });

const UserPatch = z
  .strictObject({
    name: NameSchema.optional(),
    role: RoleSchema.optional(),
    disabled: z.boolean().optional().describe("A disabled account's tokens stop working at once."),
  })
  .refine((patch) => Object.keys(patch).length > 0, {
    message: "change at least one of name, role, disabled",
  });

const NewUserByAdmin = z.strictObject({
  email: EmailSchema,
  password: PasswordSchema,
  name: NameSchema,
  role: RoleSchema.optional(),
});

const InviteRequest = z.strictObject({
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24 * 7)
    .describe("How long the code stays valid (default a week)."),
});

/** Any account for an admin, one's own for everyone else: others are reported as not found (ids reveal nothing). */
function visibleAccount(ctx: ApiContext, id: string): void {
  const caller = ctx.state.user!;
  if (caller.role !== "admin" && caller.id !== id) throw new NotFoundError("user");
}

export function userRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/users",
    operationId: "createUser",
    summary: "Create an account with any role (admins; the way in when REGISTRATION is closed).",
    description: "Same password policy as registration.",
    tags: ["users"],
    access: { roles: ["admin"] },
    body: NewUserByAdmin,
    responses: {
      201: { description: "Created.", schema: PublicUserSchema },
      409: { description: "An account with this email (in any case) exists." },
    },
    async handler(ctx, { body }) {
      const user = await callService(deps, ctx, "users.create", body);
      ctx.status = 201;
      ctx.set("Location", `/api/v1/users/${user.id}`);
      ctx.body = user;
    },
  });

  v1.add({
    method: "post",
    path: "/invites",
    operationId: "createInvite",
    summary: "Create a single-use registration invite (REGISTRATION=invite).",
    description:
      "The code is shown once; give it to one person, who passes it as `invite` to POST /auth/register.",
    tags: ["users"],
    access: { roles: ["admin"] },
    body: InviteRequest,
    responses: { 201: { description: "The invite.", schema: NewInviteSchema } },
    async handler(ctx, { body }) {
      ctx.body = await callService(deps, ctx, "users.createInvite", {
        adminId: ctx.state.user!.id,
        expiresInHours: body.expiresInHours,
      });
      ctx.status = 201;
    },
  });

  v1.add({
    method: "get",
    path: "/me",
    operationId: "getMe",
    summary: "The caller's account.",
    tags: ["users"],
    access: "authenticated",
    responses: { 200: { description: "The account.", schema: PublicUserSchema } },
    handler(ctx) {
      // The account was just loaded (or taken from the auth-state cache, which every change to an
      // account invalidates) to authenticate this request: no second trip to the users service.
      ctx.body = ctx.state.user!.account;
    },
  });

  v1.add({
    method: "get",
    path: "/users",
    operationId: "listUsers",
    summary: "List accounts, ordered by email (cursor pagination).",
    tags: ["users"],
    access: { roles: ["admin"] },
    query: UserListQuery,
    responses: { 200: { description: "One page.", schema: UserPage } },
    async handler(ctx, { query }) {
      ctx.body = await callService(deps, ctx, "users.list", query);
    },
  });

  v1.add({
    method: "get",
    path: "/users/:id",
    operationId: "getUser",
    summary: "One account: any for an admin, one's own for everyone else.",
    description: "Other accounts are reported as not found to non-admins, so that ids reveal nothing.",
    tags: ["users"],
    access: "authenticated",
    params: UserIdParams,
    notFound: "user",
    responses: { 200: { description: "The account.", schema: PublicUserSchema } },
    async handler(ctx, { params }) {
      visibleAccount(ctx, params.id);
      ctx.body = await callService(deps, ctx, "users.get", { id: params.id });
    },
  });

  v1.add({
    method: "patch",
    path: "/users/:id",
    operationId: "updateUser",
    summary: "Change an account's name, role or disabled flag.",
    description:
      "Disabling an account revokes its refresh tokens; the last active admin cannot be demoted or disabled.",
    tags: ["users"],
    access: { roles: ["admin"] },
    params: UserIdParams,
    notFound: "user",
    body: UserPatch,
    responses: {
      200: { description: "The changed account.", schema: PublicUserSchema },
      409: { description: "The change would leave no active admin." },
    },
    async handler(ctx, { params, body }) {
      const user = await callService(deps, ctx, "users.update", { id: params.id, ...body });
      // The users.changed broadcast reaches every API node; dropping the entry here as well makes the
      // change effective on this node before the response leaves, whatever the transport's latency.
      deps.authStates.invalidate(params.id);
      ctx.body = user;
    },
  });

  v1.add({
    method: "get",
    path: "/me/quotas",
    operationId: "getMyQuotas",
    summary: "The caller's quotas: the role's, an admin's override, and the effective one.",
    description: "`effective` is what the caller's next run, sweep or submission is checked against.",
    tags: ["users"],
    access: "authenticated",
    responses: { 200: { description: "The quotas.", schema: UserQuotasSchema } },
    async handler(ctx) {
      ctx.body = await callService(deps, ctx, "users.quotas", { id: ctx.state.user!.id });
    },
  });

  v1.add({
    method: "get",
    path: "/users/:id/quotas",
    operationId: "getUserQuotas",
    summary: "An account's quotas: any for an admin, one's own for everyone else.",
    tags: ["users"],
    access: "authenticated",
    params: UserIdParams,
    notFound: "user",
    responses: { 200: { description: "The quotas.", schema: UserQuotasSchema } },
    async handler(ctx, { params }) {
      visibleAccount(ctx, params.id);
      ctx.body = await callService(deps, ctx, "users.quotas", { id: params.id });
    },
  });

  v1.add({
    method: "put",
    path: "/users/:id/quotas",
    operationId: "setUserQuotas",
    summary:
      "Set an account's quota override (admins): any subset of the limits; the others stay the role's.",
    description:
      "Replaces the whole override: a limit left out goes back to the role's (`{}` clears them all). Every node checks the user's next request against it, whichever node took this one.",
    tags: ["users"],
    access: { roles: ["admin"] },
    params: UserIdParams,
    notFound: "user",
    body: QuotaOverrideSchema,
    responses: { 200: { description: "The account's quotas now.", schema: UserQuotasSchema } },
    async handler(ctx, { params, body }) {
      ctx.body = await callService(deps, ctx, "users.setQuotas", {
        id: params.id,
        adminId: ctx.state.user!.id,
        override: body,
      });
    },
  });

  v1.add({
    method: "delete",
    path: "/users/:id/quotas",
    operationId: "clearUserQuotas",
    summary: "Drop an account's quota override (admins): the role's quota applies again.",
    tags: ["users"],
    access: { roles: ["admin"] },
    params: UserIdParams,
    notFound: "user",
    responses: { 200: { description: "The account's quotas now.", schema: UserQuotasSchema } },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "users.clearQuotas", { id: params.id });
    },
  });
}
