import { z } from "zod";
import type { PublicSubmission } from "../../contracts/submissions.ts";
import type { exerciseSummary, publicExercise } from "../../exercises/index.ts";
import type { SandboxPoolStats } from "../../sandbox/pool.ts";
import { CallerParams, defineActions, returns } from "../action.ts";
import type { listSubmissions, progressOf, progressPage } from "./store.ts";

type Result<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

/** The submissions service's actions (submissions.service.ts): what each takes and gives. */
export const SUBMISSIONS_ACTIONS = defineActions({
  exercises: { params: z.object({}), result: returns<ReturnType<typeof exerciseSummary>[]>() },
  exercise: {
    params: z.object({ exerciseId: z.string() }),
    result: returns<ReturnType<typeof publicExercise>>(),
  },
  create: {
    params: CallerParams.extend({ exerciseId: z.string(), code: z.string().min(1) }),
    result: returns<PublicSubmission>(),
  },
  get: {
    params: CallerParams.extend({ submissionId: z.uuid() }),
    result: returns<PublicSubmission>(),
  },
  list: {
    params: CallerParams.extend({
      exerciseId: z.string(),
      limit: z.number().int().min(1).max(100).optional(),
      cursor: z.string().optional(),
      forUser: z.uuid().optional(),
    }),
    result: returns<Result<typeof listSubmissions>>(),
  },
  myProgress: { params: CallerParams, result: returns<Result<typeof progressOf>[number]>() },
  progress: {
    params: CallerParams.extend({
      limit: z.number().int().min(1).max(100).optional(),
      cursor: z.string().optional(),
    }),
    result: returns<Result<typeof progressPage>>(),
  },
  /** Pool and queue figures of this node (tests, benchmarks, operators). */
  stats: {
    params: z.object({}),
    result: returns<{ queued: number; active: number; pool: SandboxPoolStats | null }>(),
  },
});
