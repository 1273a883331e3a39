import { z } from "zod";
import { RUN_STATUSES } from "../../db/entities/Run.ts";
import {
  CreateRunInput,
  MetricPointSchema,
  type PublicRun,
  PublicRunSchema,
} from "../../services/runs/schemas.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** Training runs: launch, watch, stop, resume, delete, metrics history, checkpoint download. */
const RunIdParams = z.object({ id: z.uuid().describe("The run's id.") });

const RunListQuery = z.object({
  status: z.enum(RUN_STATUSES).optional().describe("Only runs in this status."),
  env: z.string().min(1).max(100).optional().describe("Only runs of this environment id."),
  limit: z.coerce.number().int().min(1).max(100).default(50).describe("Page size (1–100)."),
  cursor: z.string().min(1).max(512).optional().describe("`nextCursor` of the previous page."),
});

const RunPage = z
  .object({
    items: z.array(PublicRunSchema),
    nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
  })
  .meta({ title: "RunPage" });

const MetricsQuery = z.object({
  fromIteration: z.coerce.number().int().min(0).default(0).describe("First iteration to return."),
  maxPoints: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe("Downsample to at most this many evenly spaced points (first and last kept)."),
});

const MetricHistory = z
  .object({ runId: z.uuid(), points: z.array(MetricPointSchema) })
  .meta({ title: "MetricHistory" });

function who(ctx: ApiContext) {
  const user = ctx.state.user!;
  return { userId: user.id, role: user.role };
}

export function runRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/runs",
    operationId: "createRun",
    summary: "Launch a PPO training run.",
    description:
      "The hyperparameters are the preset's with the overrides on top, validated as a whole; every problem names its field. Quotas depend on the role.",
    tags: ["runs"],
    access: "authenticated",
    body: CreateRunInput,
    responses: {
      201: { description: "The run, queued.", schema: PublicRunSchema },
      403: { description: "The role may not ask for this (GPU, runners, steps)." },
      429: { description: "Too many active runs for the role." },
    },
    async handler(ctx, { body }) {
      ctx.body = await callService<PublicRun>(deps, ctx, "runs.create", { ...body, ...who(ctx) });
      ctx.status = 201;
    },
  });

  v1.add({
    method: "get",
    path: "/runs",
    operationId: "listRuns",
    summary: "The caller's runs (an admin's: all), newest first, by cursor.",
    tags: ["runs"],
    access: "authenticated",
    query: RunListQuery,
    responses: { 200: { description: "One page.", schema: RunPage } },
    async handler(ctx, { query }) {
      ctx.body = await callService(deps, ctx, "runs.list", { ...query, ...who(ctx) });
    },
  });

  v1.add({
    method: "get",
    path: "/runs/:id",
    operationId: "getRun",
    summary: "One run.",
    description: "Another user's run is reported as not found (admins see all).",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: { 200: { description: "The run.", schema: PublicRunSchema } },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "runs.get", { runId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "post",
    path: "/runs/:id/stop",
    operationId: "stopRun",
    summary: "Stop a run: at once when queued, within one iteration when running.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The run, stopping or stopped.", schema: PublicRunSchema },
      409: { description: "The run has already completed or failed." },
    },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "runs.stop", { runId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "post",
    path: "/runs/:id/resume",
    operationId: "resumeRun",
    summary: "Resume a stopped (or failed) run from its last checkpoint.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The run, queued again.", schema: PublicRunSchema },
      409: { description: "The run is not stopped or failed." },
    },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "runs.resume", { runId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "delete",
    path: "/runs/:id",
    operationId: "deleteRun",
    summary: "Stop a run, then remove it with its metrics and checkpoints.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: { 204: { description: "Deleted." } },
    async handler(ctx, { params }) {
      await callService(deps, ctx, "runs.delete", { runId: params.id, ...who(ctx) });
      ctx.status = 204;
    },
  });

  v1.add({
    method: "get",
    path: "/runs/:id/metrics",
    operationId: "getRunMetrics",
    summary: "A run's metric history, one point per iteration, downsampled when asked.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    query: MetricsQuery,
    responses: { 200: { description: "The points, by iteration.", schema: MetricHistory } },
    async handler(ctx, { params, query }) {
      ctx.body = await callService(deps, ctx, "runs.metrics", { runId: params.id, ...query, ...who(ctx) });
    },
  });

  v1.add({
    method: "get",
    path: "/runs/:id/checkpoint",
    operationId: "getRunCheckpoint",
    summary: "The run's latest checkpoint, a single file (`proxima eval --checkpoint FILE` loads it).",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The checkpoint (format PRXCKPT1).", contentType: "application/octet-stream" },
    },
    async handler(ctx, { params }) {
      const c = await callService<{ iteration: number; globalStep: number; bytes: Uint8Array }>(
        deps,
        ctx,
        "runs.checkpoint",
        { runId: params.id, ...who(ctx) },
      );
      ctx.set("content-type", "application/octet-stream");
      ctx.set("content-disposition", `attachment; filename="run-${params.id}-iter-${c.iteration}.ckpt"`);
      ctx.set("x-checkpoint-iteration", String(c.iteration));
      ctx.set("x-checkpoint-global-step", String(c.globalStep));
      ctx.body = Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
    },
  });
}
