import { z } from "zod";
import {
  CreateSubmissionInput,
  PublicSubmissionSchema,
  SubmissionPageSchema,
} from "../../contracts/submissions.ts";
import { PayloadTooLargeError } from "../../lib/errors.ts";
import type { ApiContext, ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";
import { ExerciseIdParams } from "./exercises.ts";

/** Code submissions: submit for grading (asynchronous), read a grade, list an exercise's history. */
const SubmissionIdParams = z.object({ id: z.uuid().describe("The submission's id.") });

const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size (1–100)."),
  cursor: z.string().min(1).max(512).optional().describe("`nextCursor` of the previous page."),
  userId: z.uuid().optional().describe("Admins: only this user's submissions."),
});

function who(ctx: ApiContext) {
  const user = ctx.state.user!;
  return { userId: user.id, role: user.role };
}

export function submissionRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "post",
    path: "/exercises/:id/submissions",
    operationId: "createSubmission",
    summary: "Submit code for an exercise; it is graded asynchronously.",
    description:
      'Answers 202 with the queued submission. Poll `GET /submissions/{id}` or listen on the WebSocket for `{type:"submission"}`. Quotas: submissions per minute and at once per user (429 with Retry-After); code size (413).',
    tags: ["submissions"],
    access: "authenticated",
    params: ExerciseIdParams,
    notFound: "exercise",
    body: CreateSubmissionInput,
    responses: {
      202: { description: "The submission, queued.", schema: PublicSubmissionSchema },
      413: { description: "The code is larger than SUBMISSION_MAX_CODE_BYTES." },
      429: { description: "Too many submissions this minute, or too many being graded." },
    },
    async handler(ctx, { params, body }) {
      const bytes = Buffer.byteLength(body.code, "utf8");
      if (bytes > deps.config.SUBMISSION_MAX_CODE_BYTES) {
        throw new PayloadTooLargeError(
          `the code takes ${bytes} bytes; at most ${deps.config.SUBMISSION_MAX_CODE_BYTES} are accepted`,
          { limit: deps.config.SUBMISSION_MAX_CODE_BYTES },
        );
      }
      const submission = await callService(deps, ctx, "submissions.create", {
        exerciseId: params.id,
        code: body.code,
        ...who(ctx),
      });
      ctx.status = 202;
      ctx.set("location", `/api/v1/submissions/${submission.id}`);
      ctx.body = submission;
    },
  });

  v1.add({
    method: "get",
    path: "/submissions/:id",
    operationId: "getSubmission",
    summary: "One submission: status, score, per-test results, console output, runtime and memory.",
    description: "Another user's submission is reported as not found (admins see all).",
    tags: ["submissions"],
    access: "authenticated",
    params: SubmissionIdParams,
    notFound: "submission",
    responses: { 200: { description: "The submission.", schema: PublicSubmissionSchema } },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "submissions.get", { submissionId: params.id, ...who(ctx) });
    },
  });

  v1.add({
    method: "get",
    path: "/exercises/:id/submissions",
    operationId: "listSubmissions",
    summary: "The caller's submissions to an exercise (an admin's: everyone's), newest first.",
    tags: ["submissions"],
    access: "authenticated",
    params: ExerciseIdParams,
    notFound: "exercise",
    query: HistoryQuery,
    responses: { 200: { description: "One page (without the code).", schema: SubmissionPageSchema } },
    async handler(ctx, { params, query }) {
      ctx.body = await callService(deps, ctx, "submissions.list", {
        exerciseId: params.id,
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.userId ? { forUser: query.userId } : {}),
        ...who(ctx),
      });
    },
  });
}
