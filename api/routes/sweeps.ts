import { z } from "zod";
import { SWEEP_STATUSES } from "../../contracts/sweep-status.ts";
import { PublicSweepSchema, SweepWithTrialsSchema } from "../../contracts/sweeps.ts";
import { SweepDefinitionInput } from "../../sweeps/definition.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** Hyperparameter sweeps: launch (researchers, admins), list, watch, stop, resume, results as CSV. */
const SweepIdParams = z.object({ id: z.uuid().describe("The sweep's id.") });

const SweepListQuery = z.object({
  status: z.enum(SWEEP_STATUSES).optional().describe("Only sweeps in this status."),
  limit: z.coerce.number().int().min(1).max(100).default(50).describe("Most sweeps returned (1–100)."),
});

const SweepList = z.object({ items: z.array(PublicSweepSchema) }).meta({ title: "SweepList" });

function who(ctx: ApiContext) {
  const user = ctx.state.user!;
  return { userId: user.id, role: user.role };
}

export function sweepRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/sweeps",
    operationId: "createSweep",
    summary: "Launch a hyperparameter sweep (grid, random or PBT, with optional ASHA early stopping).",
    description:
      "The definition is validated as a whole and every trial's run as the runs API would; problems name the definition's key (422). Trials run as the caller's own runs, within maxConcurrent and the caller's quotas.",
    tags: ["sweeps"],
    access: { roles: ["researcher", "admin"] },
    body: SweepDefinitionInput,
    responses: {
      201: { description: "The sweep with its trials, running.", schema: SweepWithTrialsSchema },
      403: {
        description:
          "Learners may not sweep; or a trial (or, for PBT, a value its perturbations may reach) is over the role's quotas (GPU, runners, steps, parameters, gradient steps, samples, estimated FLOPs per iteration).",
      },
      429: {
        description: "Too many running sweeps for the role (counted under a per-user lock); Retry-After.",
      },
    },
    async handler(ctx, { body }) {
      ctx.body = await callService(deps, ctx, "sweeps.create", {
        definition: body,
        ...who(ctx),
      });
      ctx.status = 201;
    },
  });

  v1.add({
    method: "get",
    path: "/sweeps",
    operationId: "listSweeps",
    summary: "The caller's sweeps (an admin's: all), newest first.",
    tags: ["sweeps"],
    access: "authenticated",
    query: SweepListQuery,
    responses: { 200: { description: "The sweeps, without their trials.", schema: SweepList } },
    async handler(ctx, { query }) {
      ctx.body = await callService(deps, ctx, "sweeps.list", { ...query, ...who(ctx) });
    },
  });

  v1.add({
    method: "get",
    path: "/sweeps/:id",
    operationId: "getSweep",
    summary: "One sweep with its trials (parameters, status, metric at each rung, final metric, steps).",
    tags: ["sweeps"],
    access: "authenticated",
    params: SweepIdParams,
    notFound: "sweep",
    responses: { 200: { description: "The sweep.", schema: SweepWithTrialsSchema } },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "sweeps.get", { sweepId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "post",
    path: "/sweeps/:id/stop",
    operationId: "stopSweep",
    summary: "Stop a sweep and every trial it is running.",
    tags: ["sweeps"],
    access: "authenticated",
    params: SweepIdParams,
    notFound: "sweep",
    responses: {
      200: { description: "The sweep, stopping.", schema: PublicSweepSchema },
      409: { description: "The sweep has already ended." },
    },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "sweeps.stop", { sweepId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "post",
    path: "/sweeps/:id/resume",
    operationId: "resumeSweep",
    summary: "Resume a stopped sweep: its stopped trials continue from their checkpoints, the rest start.",
    tags: ["sweeps"],
    access: "authenticated",
    params: SweepIdParams,
    notFound: "sweep",
    responses: {
      200: { description: "The sweep, running again.", schema: PublicSweepSchema },
      409: { description: "The sweep is not stopped." },
      429: {
        description: "Too many running sweeps for the owner (counted under a per-user lock); Retry-After.",
      },
    },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "sweeps.resume", { sweepId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "get",
    path: "/sweeps/:id/results.csv",
    operationId: "getSweepResults",
    summary:
      "All trials as CSV: parameters, seed, status, the metric at each rung, final metric, steps, run id.",
    tags: ["sweeps"],
    access: "authenticated",
    params: SweepIdParams,
    notFound: "sweep",
    responses: { 200: { description: "RFC 4180 CSV, one row per trial.", contentType: "text/csv" } },
    async handler(ctx, { params }) {
      const r = await callService(deps, ctx, "sweeps.results", {
        sweepId: params.id,
        ...who(ctx),
      });
      ctx.set("content-type", "text/csv; charset=utf-8");
      ctx.set("content-disposition", `attachment; filename="sweep-${params.id}.csv"`);
      ctx.body = r.csv;
    },
  });
}
