import { z } from "zod";
import { ProgressPageSchema, UserProgressSchema } from "../../contracts/submissions.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** Learner progress: exercises (kept with each grade) and runs (derived from the runs' data). */
const ProgressQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size (1–100)."),
  cursor: z.string().min(1).max(512).optional().describe("`nextCursor` of the previous page."),
});

function who(ctx: ApiContext) {
  const user = ctx.state.user!;
  return { userId: user.id, role: user.role };
}

export function progressRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "get",
    path: "/me/progress",
    operationId: "getMyProgress",
    summary: "The caller's progress: exercises attempted and passed, best scores, runs per environment.",
    tags: ["progress"],
    access: "authenticated",
    responses: { 200: { description: "The caller's progress.", schema: UserProgressSchema } },
    async handler(ctx) {
      ctx.body = await callService(deps, ctx, "submissions.myProgress", who(ctx));
    },
  });

  v1.add({
    method: "get",
    path: "/progress",
    operationId: "listProgress",
    summary: "Every user's progress, by email (admins).",
    tags: ["progress"],
    access: { roles: ["admin"] },
    query: ProgressQuery,
    responses: { 200: { description: "One page.", schema: ProgressPageSchema } },
    async handler(ctx, { query }) {
      ctx.body = await callService(deps, ctx, "submissions.progress", {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...who(ctx),
      });
    },
  });
}
