import { z } from "zod";

/** What the submissions and exercises API takes, answers and broadcasts: one definition for validation, OpenAPI and the clients. */

/** `queued` → `running` → `passed | failed | error`; the last three are final. */
export const SUBMISSION_STATUSES = ["queued", "running", "passed", "failed", "error"] as const;
export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];
export const FINAL_SUBMISSION_STATUSES: readonly SubmissionStatus[] = ["passed", "failed", "error"];

/** Broadcast when a submission's grading ends; every API node tells the learner's sockets. */
export const SUBMISSION_GRADED_EVENT = "submissions.graded";

export interface SubmissionGradedEvent {
  submissionId: string;
  userId: string;
  exerciseId: string;
  exerciseVersion: number;
  status: "passed" | "failed" | "error";
  score: number;
  maxScore: number;
  /** A passed environment submission's env id (`custom:<id>`), usable in runs; null otherwise. */
  envId: string | null;
}

export const SubmissionStatusSchema = z
  .enum(SUBMISSION_STATUSES)
  .describe("queued → running → passed | failed | error (could not be graded at all).");

const VisibleTestSchema = z.object({
  name: z.string(),
  description: z.string(),
  args: z.array(z.unknown()).describe("The arguments the function is called with."),
  expected: z.unknown().optional().describe("The expected return value, where the test has one."),
});

export const ExerciseSummarySchema = z
  .object({
    id: z.string(),
    version: z.number().int().describe("Changes whenever the grading does."),
    kind: z.enum(["function", "training", "environment"]),
    title: z.string(),
    summary: z.string(),
    points: z.number().int(),
    passingScore: z.number().describe("Fraction of the points needed to pass."),
  })
  .meta({ title: "ExerciseSummary" });

export type ExerciseSummary = z.infer<typeof ExerciseSummarySchema>;

export const PublicExerciseSchema = ExerciseSummarySchema.extend({
  statement: z.string().describe("Markdown, with maths as TeX between $ (inline) or $$ (displayed)."),
  statementHtml: z
    .string()
    .describe(
      "The statement as HTML, maths typeset by KaTeX (its stylesheet and fonts are needed to show it). KaTeX's inline styles are data-katex-style attributes, to be applied through the CSSOM, as a page whose CSP refuses style attributes must.",
    ),
  starterCode: z.string(),
  signature: z.string(),
  entry: z.string().describe("The function the submission must declare."),
  visibleTests: z.array(VisibleTestSchema),
  limits: z.object({
    cpuTimeMs: z.number().optional(),
    wallTimeMs: z.number().optional(),
    memoryMb: z.number().optional(),
  }),
}).meta({ title: "Exercise" });
export type PublicExercise = z.infer<typeof PublicExerciseSchema>;

const JsonBoxSchema = z.object({
  kind: z.literal("box"),
  shape: z.array(z.number().int()),
  low: z.array(z.number().nullable()).describe("null: unbounded below."),
  high: z.array(z.number().nullable()).describe("null: unbounded above."),
});

export const TestOutcomeSchema = z.object({
  name: z.string(),
  hidden: z.boolean().describe("Hidden tests report no inputs nor expected values."),
  passed: z.boolean(),
  message: z.string(),
  timeMs: z.number(),
  scored: z
    .literal(false)
    .optional()
    .describe(
      "false: a check shown for information (an example), not counted in the score; absent: counted.",
    ),
});

export const PublicSubmissionSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    exerciseId: z.string(),
    exerciseVersion: z.number().int(),
    codeHash: z.string().describe("SHA-256 of the code (UTF-8), hex."),
    code: z.string().optional().describe("The submitted code (single-submission view only)."),
    status: SubmissionStatusSchema,
    score: z.number(),
    maxScore: z.number().int(),
    tests: z.array(TestOutcomeSchema),
    console: z.string().describe("Captured console output, capped."),
    consoleTruncated: z.boolean(),
    error: z.string().nullable(),
    runtimeMs: z.number().nullable(),
    cpuTimeMs: z.number().nullable(),
    memoryBytes: z.number().nullable(),
    envId: z
      .string()
      .nullable()
      .describe("A passed environment submission's env id (`custom:<id>`), usable in POST /runs; else null."),
    envSpec: z
      .object({
        observationSpace: JsonBoxSchema,
        actionSpace: z.union([z.object({ kind: z.literal("discrete"), n: z.number().int() }), JsonBoxSchema]),
        maxEpisodeSteps: z.number().int(),
        stateful: z.boolean().describe("The env has getState/setState: resumed runs continue its episodes."),
      })
      .nullable()
      .describe("What a passed environment declared; null for other submissions."),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ title: "Submission" });
export type PublicSubmission = z.infer<typeof PublicSubmissionSchema>;

export const SubmissionPageSchema = z
  .object({
    items: z.array(PublicSubmissionSchema),
    nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last page."),
  })
  .meta({ title: "SubmissionPage" });

export const CreateSubmissionInput = z
  .strictObject({ code: z.string().min(1).describe("A classic script declaring the exercise's function.") })
  .meta({ title: "CreateSubmission" });

export const ExerciseProgressSchema = z.object({
  exerciseId: z.string(),
  title: z.string(),
  attempts: z.number().int().describe("Graded submissions."),
  bestScore: z.number(),
  maxScore: z.number().int(),
  passed: z.boolean(),
  bestSubmissionId: z.uuid().nullable(),
  firstPassedAt: z.string().nullable(),
  lastSubmissionAt: z.string(),
});

export type ExerciseProgress = z.infer<typeof ExerciseProgressSchema>;

export const EnvProgressSchema = z.object({
  env: z.string(),
  runs: z.number().int(),
  bestEpisodicReturn: z
    .number()
    .nullable()
    .describe("Best mean episodic return (charts/episodic_return) of any iteration of these runs."),
  bestEvaluationReturn: z
    .number()
    .nullable()
    .describe(
      "Best evaluation return (the deterministic final policy's mean return, see Run.evaluation) of these runs that completed.",
    ),
});

export const UserProgressSchema = z
  .object({
    userId: z.uuid(),
    email: z.string().optional(),
    name: z.string().optional(),
    exercisesAttempted: z.number().int(),
    exercisesPassed: z.number().int(),
    exercisesTotal: z.number().int(),
    points: z.number().describe("Sum of the best scores."),
    attempts: z.number().int(),
    lastActivity: z.string().nullable().describe("Latest graded submission or run launch."),
    exercises: z.array(ExerciseProgressSchema),
    runs: z.object({ launched: z.number().int(), byEnv: z.array(EnvProgressSchema) }),
  })
  .meta({ title: "UserProgress" });
export type UserProgress = z.infer<typeof UserProgressSchema>;

export const ProgressPageSchema = z
  .object({ items: z.array(UserProgressSchema), nextCursor: z.string().nullable() })
  .meta({ title: "ProgressPage" });
