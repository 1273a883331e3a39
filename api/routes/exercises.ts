import { z } from "zod";
import { ExerciseSummarySchema, PublicExerciseSchema } from "../../contracts/submissions.ts";
import type { ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** The exercise catalogue: statements, starter code and visible tests (hidden tests stay on the server). */
export const ExerciseIdParams = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,99}$/)
    .describe("The exercise's id, e.g. gae."),
});

export function exerciseRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "get",
    path: "/exercises",
    operationId: "listExercises",
    summary: "The exercise catalogue.",
    tags: ["exercises"],
    access: "authenticated",
    responses: {
      200: { description: "Every exercise, in course order.", schema: z.array(ExerciseSummarySchema) },
    },
    async handler(ctx) {
      ctx.body = await callService(deps, ctx, "submissions.exercises", {});
    },
  });

  v1.add({
    method: "get",
    path: "/exercises/:id",
    operationId: "getExercise",
    summary: "One exercise: statement (Markdown), starter code, signature and visible tests.",
    tags: ["exercises"],
    access: "authenticated",
    params: ExerciseIdParams,
    notFound: "exercise",
    responses: { 200: { description: "The exercise.", schema: PublicExerciseSchema } },
    async handler(ctx, { params }) {
      ctx.body = await callService(deps, ctx, "submissions.exercise", { exerciseId: params.id });
    },
  });
}
