import { Readable } from "node:stream";
import { z } from "zod";
import { RunReplaySchema } from "../../contracts/replay.ts";
import { RUN_STATUSES } from "../../contracts/run-status.ts";
import {
  MetricPointSchema,
  type PublicMetricPoint,
  PublicRunSchema,
  RunTagSchema,
  TRIAL_FILTERS,
  UpdateRunInput,
} from "../../contracts/runs.ts";
import { csvRow } from "../../lib/csv.ts";
import { ValidationFailedError } from "../../lib/errors.ts";
import { IDEMPOTENCY_KEY_PATTERN } from "../../services/runs/idempotency.ts";
import { configurationProblems } from "../../services/runs/resolve.ts";
import { CreateRunInput } from "../../services/runs/schemas.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** Training runs: launch, watch, stop, resume, delete, metrics history, checkpoint and policy (ONNX) download. */
const RunIdParams = z.object({ id: z.uuid().describe("The run's id.") });

const RunListQuery = z.object({
  status: z.enum(RUN_STATUSES).optional().describe("Only runs in this status."),
  env: z.string().min(1).max(100).optional().describe("Only runs of this environment id."),
  tag: RunTagSchema.optional().describe("Only runs with this tag."),
  q: z.string().min(1).max(200).optional().describe("Only runs whose name contains this text (any case)."),
  trials: z
    .enum(TRIAL_FILTERS)
    .default("exclude")
    .describe(
      "Runs that sweeps launched as their trials: left out (`exclude`, the default), listed with the others (`include`), or alone (`only`).",
    ),
  sweep: z.uuid().optional().describe("Only the trials of this sweep (whatever `trials` says)."),
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

/** How many points one page of an export reads: a few hundred kB of CSV, one short query each. */
const EXPORT_PAGE = 1000;

/** The export's first columns, then every metric key the run has (sorted). */
const EXPORT_COLUMNS = ["iteration", "global_step", "wall_time"] as const;

/** `GET /runs/:id/metrics.<ext>`: one point per line in each format, the same columns in both. */
const EXPORT_FORMATS: Record<
  string,
  {
    operationId: string;
    summary: string;
    description: string;
    contentType: string;
    header(keys: readonly string[]): string;
    line(p: PublicMetricPoint, keys: readonly string[]): string;
  }
> = {
  csv: {
    operationId: "exportRunMetricsCsv",
    summary: "A run's whole metric history as CSV, one row per iteration.",
    description:
      "RFC 4180, a header row then one row per point: `iteration`, `global_step`, `wall_time` (ISO 8601), then every metric key the run has, sorted (an empty field where a point lacks the key or its value is not finite). Numbers are written in their shortest round-trip form: parsed back, they equal the JSON history's.",
    contentType: "text/csv",
    header: (keys) => csvRow([...EXPORT_COLUMNS, ...keys]),
    line: (p, keys) => csvRow([p.iteration, p.globalStep, p.wallTime, ...keys.map((k) => p.metrics[k])]),
  },
  jsonl: {
    operationId: "exportRunMetricsJsonl",
    summary: "A run's whole metric history as JSON Lines, one point per line.",
    description:
      "One JSON object per line (https://jsonlines.org): `iteration`, `global_step`, `wall_time`, then every metric key the run has, sorted (null where a point lacks the key or its value is not finite): the CSV's columns, by name.",
    contentType: "application/jsonl",
    header: () => "",
    line(p, keys) {
      const row: Record<string, unknown> = {
        iteration: p.iteration,
        global_step: p.globalStep,
        wall_time: p.wallTime,
      };
      for (const k of keys) row[k] = p.metrics[k] ?? null;
      return `${JSON.stringify(row)}\n`;
    },
  },
};
const ReplayQuery = z.object({
  episode: z.coerce
    .number()
    .int()
    .min(0)
    .max(999)
    .default(0)
    .describe("Which evaluation episode: its env is reset with the evaluation seed + episode."),
});

const MetricHistory = z
  .object({ runId: z.uuid(), points: z.array(MetricPointSchema) })
  .meta({ title: "MetricHistory" });

/**
 * An export's columns and its pages of points, read through the runs service a page at a time as the
 * response is consumed (a slow client slows the reads, never piles points up in memory). The first
 * call checks access (404 before any byte is sent) and fixes the columns and the last iteration.
 */
async function exportPages(
  deps: ApiDeps,
  ctx: ApiContext,
  runId: string,
): Promise<{ keys: string[]; pages: AsyncGenerator<PublicMetricPoint[]> }> {
  const caller = who(ctx);
  const { keys, lastIteration } = await callService(deps, ctx, "runs.metricKeys", { runId, ...caller });
  async function* pages() {
    let from = 0;
    while (from <= lastIteration) {
      const { points } = await callService(deps, ctx, "runs.metricsPage", {
        runId,
        ...caller,
        fromIteration: from,
        toIteration: lastIteration,
        limit: EXPORT_PAGE,
      });
      if (points.length === 0) return;
      yield points;
      from = points.at(-1)!.iteration + 1;
    }
  }
  return { keys, pages: pages() };
}

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
      "The hyperparameters are the preset's with the overrides on top, validated as a whole; every problem names its field. Quotas depend on the role.\n\n" +
      "Retries: send an `Idempotency-Key` header (1–255 visible ASCII characters, unique per request you mean, kept for IDEMPOTENCY_KEY_TTL_S, default 24 h, per user). " +
      "The first request with a key creates the run (201). The same key with the same body returns that same run (200, header `Idempotent-Replayed: true`), whatever happened to the first response. " +
      "The same key with another body is a 422; while the first request with the key is still being processed, a 409 (retry later). A request that fails (4xx, 5xx) does not use up its key.",
    tags: ["runs"],
    access: "authenticated",
    body: CreateRunInput,
    moreBodyProblems: configurationProblems,
    responses: {
      200: {
        description: "Replay of an Idempotency-Key: the run the first request created.",
        schema: PublicRunSchema,
      },
      201: { description: "The run, queued.", schema: PublicRunSchema },
      403: {
        description:
          "The role may not ask for this (GPU, runners, steps, or compute: network parameters, gradient steps, samples or estimated FLOPs per iteration); `reason` names the limit, `value` and `limit` give both.",
      },
      409: { description: "A request with this Idempotency-Key is still in flight." },
      422: { description: "Invalid run, or an Idempotency-Key reused with another body." },
      429: { description: "Too many active runs for the role (counted under a per-user lock); Retry-After." },
    },
    async handler(ctx, { body }) {
      const key = ctx.get("idempotency-key");
      if (ctx.headers["idempotency-key"] === undefined) {
        ctx.body = await callService(deps, ctx, "runs.create", { ...body, ...who(ctx) });
        ctx.status = 201;
        return;
      }
      if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
        throw new ValidationFailedError("the Idempotency-Key header is invalid", [
          { field: "header.idempotency-key", message: "must be 1 to 255 visible ASCII characters" },
        ]);
      }
      const result = await callService(deps, ctx, "runs.createOnce", {
        ...body,
        ...who(ctx),
        idempotencyKey: key,
      });
      ctx.body = result.run;
      ctx.status = result.replayed ? 200 : 201;
      if (result.replayed) ctx.set("idempotent-replayed", "true");
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
      const { sweep, ...filters } = query;
      ctx.body = await callService(deps, ctx, "runs.list", {
        ...filters,
        ...(sweep ? { sweepId: sweep } : {}),
        ...who(ctx),
      });
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
    method: "patch",
    path: "/runs/:id",
    operationId: "updateRun",
    summary: "Rename a run, set its tags or its notes.",
    description:
      "The owner or an admin. The fields given replace the stored ones, the others are kept; null clears the name or the notes. The whole body is validated before anything is written: a 422 lists every invalid field and changes nothing.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    body: UpdateRunInput,
    responses: {
      200: { description: "The run as it now is.", schema: PublicRunSchema },
      422: { description: "An invalid field (each named, with its limit)." },
    },
    async handler(ctx, { params, body }) {
      ctx.body = await callService(deps, ctx, "runs.update", {
        runId: params.id,
        changes: body,
        ...who(ctx),
      });
    },
  });

  v1.add({
    method: "post",
    path: "/runs/:id/stop",
    operationId: "stopRun",
    summary: "Stop a run: at once when queued, within one iteration when running.",
    description:
      "Only a queued or running run can be stopped. Stop, resume and delete of one run are serialised: of concurrent requests exactly one changes the run, the others get 409 with the status they found.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The run, stopping or stopped.", schema: PublicRunSchema },
      409: { description: "The run is not queued or running, or another request changed it first." },
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
    description: "A sweep's trial is resumed with its sweep (`POST /sweeps/{id}/resume`), never alone: 409.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The run, queued again.", schema: PublicRunSchema },
      409: {
        description:
          "The run is not stopped or failed, another request changed it first, or it is a sweep's trial (`sweepId`).",
      },
      403: {
        description:
          "The run's configuration is over the role's quotas (as at creation; ops may have lowered them).",
      },
      429: {
        description: "Too many active runs for the owner (counted under a per-user lock); Retry-After.",
      },
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
    description:
      "The owner or an admin may delete a run in any status; an active run is stopped by the deletion itself (its host ends it and releases its runners). The deletion applies to the run as the request found it: if a concurrent stop, resume or delete changed it first, the answer is 409 and nothing is deleted.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      204: { description: "Deleted." },
      409: { description: "Another request changed or deleted the run first." },
    },
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

  for (const [ext, format] of Object.entries(EXPORT_FORMATS)) {
    v1.add({
      method: "get",
      path: `/runs/:id/metrics.${ext}`,
      operationId: format.operationId,
      summary: format.summary,
      description:
        `${format.description} Streamed: the server reads the points a page at a time, however long the run. ` +
        "The columns are fixed when the request starts (the keys of the points up to the run's last iteration then); " +
        "points of a run still training that come later are not included. Same access as the metrics history.",
      tags: ["runs"],
      access: "authenticated",
      params: RunIdParams,
      notFound: "run",
      responses: { 200: { description: format.summary, contentType: format.contentType } },
      async handler(ctx, { params }) {
        const { keys, pages } = await exportPages(deps, ctx, params.id);
        ctx.set("content-type", `${format.contentType}; charset=utf-8`);
        ctx.set("content-disposition", `attachment; filename="run-${params.id}-metrics.${ext}"`);
        ctx.body = Readable.from(
          (async function* () {
            yield format.header(keys);
            for await (const points of pages) yield points.map((p) => format.line(p, keys)).join("");
          })(),
        );
      },
    });
  }

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
      const c = await callService(deps, ctx, "runs.checkpoint", { runId: params.id, ...who(ctx) });
      ctx.set("content-type", "application/octet-stream");
      ctx.set("content-disposition", `attachment; filename="run-${params.id}-iter-${c.iteration}.ckpt"`);
      ctx.set("x-checkpoint-iteration", String(c.iteration));
      ctx.set("x-checkpoint-global-step", String(c.globalStep));
      ctx.body = Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
    },
  });

  v1.add({
    method: "get",
    path: "/runs/:id/policy.onnx",
    operationId: "getRunPolicyOnnx",
    summary: "The deterministic policy of the run's latest checkpoint as an ONNX model.",
    description:
      "Input `obs`: float32 [batch, obsDim] raw observations (the run's observation normalisation, if any, is folded in). " +
      "Output `action`: int64 [batch], the argmax, for a Discrete action space; float32 [batch, dim], the mean clipped to the bounds, for a Box. " +
      "Opset 17; `proxima export --checkpoint FILE --format onnx` writes the same model from a downloaded checkpoint. " +
      "404 while the run has no checkpoint; 409 when the checkpoint cannot be exported (its environment is gone), naming the environment.",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    responses: {
      200: { description: "The ONNX model (an onnx.ModelProto).", contentType: "application/octet-stream" },
      409: { description: "The checkpoint's policy cannot be exported; the problem names the environment." },
    },
    async handler(ctx, { params }) {
      const p = await callService(deps, ctx, "runs.policyOnnx", { runId: params.id, ...who(ctx) });
      ctx.set("content-type", "application/octet-stream");
      ctx.set("content-disposition", `attachment; filename="run-${params.id}-iter-${p.iteration}.onnx"`);
      ctx.set("x-checkpoint-iteration", String(p.iteration));
      ctx.set("x-checkpoint-global-step", String(p.globalStep));
      ctx.body = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
    },
  });

  v1.add({
    method: "get",
    path: "/runs/:id/replay",
    operationId: "getRunReplay",
    summary: "An evaluation episode of the run's latest checkpoint, recorded step by step for playback.",
    description:
      "The deterministic policy (argmax, or the clipped mean) of the latest checkpoint plays one episode, seeded as the run's recorded evaluation (its seed + `episode`): for a completed run, `return` equals `evaluation.returns[episode]`. " +
      "Each step gives what a drawing needs (the classic-control state, or a MuJoCo robot's geoms projected on a side or top view), its reward and its action. " +
      "Recorded off the request path, once per checkpoint and episode. 409 while the run has no checkpoint, and for an environment defined by code (only built-in environments are drawn).",
    tags: ["runs"],
    access: "authenticated",
    params: RunIdParams,
    notFound: "run",
    query: ReplayQuery,
    responses: {
      200: { description: "The recorded episode.", schema: RunReplaySchema },
      409: { description: "The run has no checkpoint yet, or its environment cannot be drawn." },
    },
    async handler(ctx, { params, query }) {
      ctx.body = await callService(deps, ctx, "runs.replay", {
        runId: params.id,
        episode: query.episode,
        ...who(ctx),
      });
    },
  });
}
