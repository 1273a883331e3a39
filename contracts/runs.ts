import { z } from "zod";
import {
  RUN_NAME_MAX,
  RUN_NOTES_MAX,
  RUN_TAG_MAX,
  RUN_TAG_PATTERN,
  RUN_TAG_RULE,
  RUN_TAGS_MAX,
} from "./run-metadata.ts";
import { RUN_STATUSES } from "./run-status.ts";

export * from "./run-metadata.ts";

/**
 * What the runs API answers and broadcasts: one definition, for the server's validation and OpenAPI
 * document, the WebSocket hub, and the types of the dashboard and the CLI.
 */
export const RunStatusSchema = z.enum(RUN_STATUSES).describe("Where the run is in its life.");

/** What a run asks of the worker pool: `runners` env runners of `envsPerRunner` envs each. */
export interface RunResources {
  runners: number;
  envsPerRunner: number;
  gpu: boolean;
}

export const RunEvaluationSchema = z
  .object({
    episodes: z.number().int(),
    seed: z.number().int().describe("Seed of the evaluation envs: the run's seed + 1,000,000."),
    returnMean: z.number(),
    returnStd: z.number(),
    lengthMean: z.number(),
    returns: z.array(z.number()).describe("Each episode's return."),
    iteration: z.number().int(),
    globalStep: z.number().int(),
  })
  .describe(
    "The deterministic evaluation (argmax / clipped mean) of the final policy on fresh episodes, recorded when the run completes (RUN_EVAL_EPISODES); `proxima eval` of the final checkpoint with the same seed prints the same. Null before that, or when it could not be made.",
  )
  .meta({ title: "RunEvaluation" });
/** What a completed run records: the evaluation of its final policy, and where in training that was. */
export type RunEvaluation = z.infer<typeof RunEvaluationSchema>;

export const RunNameSchema = z
  .string()
  .trim()
  .min(1, { message: "must not be empty (send null to clear the name)" })
  .max(RUN_NAME_MAX, { message: `must be at most ${RUN_NAME_MAX} characters long` })
  .describe(`A name for people, 1–${RUN_NAME_MAX} characters.`);

export const RunTagSchema = z
  .string()
  .min(1, { message: `must be ${RUN_TAG_RULE}` })
  .max(RUN_TAG_MAX, { message: `must be ${RUN_TAG_RULE}` })
  .regex(RUN_TAG_PATTERN, { message: `must be ${RUN_TAG_RULE}` })
  .describe(`A tag: ${RUN_TAG_RULE}.`);

export const RunTagsSchema = z
  .array(RunTagSchema)
  .max(RUN_TAGS_MAX, { message: `must list at most ${RUN_TAGS_MAX} tags` })
  .refine((tags) => new Set(tags).size === tags.length, { message: "must not list a tag twice" })
  .describe(`At most ${RUN_TAGS_MAX} distinct tags (${RUN_TAG_RULE}), in the order given.`);

export const RunNotesSchema = z
  .string()
  .max(RUN_NOTES_MAX, { message: `must be at most ${RUN_NOTES_MAX} characters long` })
  .describe(`Free text, at most ${RUN_NOTES_MAX} characters.`);

/** `PATCH /runs/:id`: the metadata to change; a field left out keeps its value, null clears it. */
export const UpdateRunInput = z
  .strictObject({
    name: RunNameSchema.nullable().optional(),
    tags: RunTagsSchema.optional(),
    notes: RunNotesSchema.nullable().optional(),
  })
  .refine((b) => b.name !== undefined || b.tags !== undefined || b.notes !== undefined, {
    message: "must change at least one of name, tags, notes",
  })
  .meta({ title: "UpdateRun" });
export type UpdateRunInput = z.infer<typeof UpdateRunInput>;
/**
 * The worker pools a run draws its env runners from: GPU worker nodes serve GPU runs, the other
 * worker nodes every other run. Each pool has its own fair-share queue (actors/fair-share.ts).
 */
export const RUN_POOLS = ["cpu", "gpu"] as const;
export type RunPool = (typeof RUN_POOLS)[number];

export const RunQueueSchema = z
  .object({
    pool: z.enum(RUN_POOLS),
    position: z
      .number()
      .int()
      .min(1)
      .describe("The run's place in its pool's fair-share order: 1 starts next when its runners fit."),
    runners: z.number().int().describe("Runner slots the run waits for."),
    ownerSlots: z
      .number()
      .int()
      .describe("Slots of the pool the owner's runs hold or were granted: the owner's current share."),
    poolSlots: z.number().int().describe("Slots of the pool's live worker nodes."),
    freeSlots: z.number().int().describe("Slots of the pool nobody holds or was granted."),
    weight: z
      .number()
      .describe("The owner's role's weight (FAIRSHARE_WEIGHT_<ROLE>): share = slots ÷ weight."),
    reserved: z
      .boolean()
      .describe(
        "The run waited longer than FAIRSHARE_RESERVE_AFTER_MS without fitting: runs behind it start no more until it fits.",
      ),
    reason: z.string().describe('Why it waits, in words ("3rd for 2 CPU runners; your share 4 of 8 slots").'),
  })
  .describe(
    "Where a queued run stands in the scheduler's fair-share order; null when the run is not waiting for slots (it runs, ended, or was granted its slots and is starting).",
  )
  .meta({ title: "RunQueue" });
export type RunQueue = z.infer<typeof RunQueueSchema>;

export const PublicRunSchema = z
  .object({
    id: z.uuid(),
    ownerId: z.uuid(),
    name: z
      .string()
      .nullable()
      .describe("A name for people; a sweep's trial is named `<sweep name> #<index>`."),
    tags: z.array(z.string()),
    notes: z.string().nullable(),
    sweep: z
      .object({ id: z.uuid(), trialIndex: z.number().int() })
      .nullable()
      .describe(
        "The sweep that launched the run as one of its trials, and the trial's index; null for a run of its own. A trial is stopped and resumed with its sweep.",
      ),
    env: z.string(),
    preset: z.string().nullable(),
    config: z.record(z.string(), z.unknown()).describe("The full resolved hyperparameters."),
    seed: z.number().int(),
    totalSteps: z.number().int(),
    resources: z.object({ runners: z.number().int(), envsPerRunner: z.number().int(), gpu: z.boolean() }),
    status: RunStatusSchema,
    iteration: z.number().int(),
    globalStep: z.number().int(),
    runnersActive: z
      .number()
      .int()
      .describe(
        "Worker slots serving the run now; fewer than resources.runners while it runs degraded (a runner was lost and no free slot replaced it: its envs share a slot the run holds).",
      ),
    failureReason: z.string().nullable(),
    queue: RunQueueSchema.nullable(),
    evaluation: RunEvaluationSchema.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ title: "Run" });
export type PublicRun = z.infer<typeof PublicRunSchema>;

export const MetricPointSchema = z
  .object({
    iteration: z.number().int(),
    globalStep: z.number().int(),
    wallTime: z.string(),
    metrics: z.record(z.string(), z.number().nullable()).describe("CleanRL's keys (charts/…, losses/…)."),
  })
  .meta({ title: "MetricPoint" });
export type PublicMetricPoint = z.infer<typeof MetricPointSchema>;

/** `metrics.run.updated` (broadcast after every iteration). */
export interface RunMetricsEvent {
  runId: string;
  ownerId: string;
  iteration: number;
  globalStep: number;
  metrics: Record<string, number | null>;
}

/** `runs.status.changed` (broadcast on every status change). */
export interface RunStatusEvent {
  runId: string;
  ownerId: string;
  status: z.infer<typeof RunStatusSchema>;
}

export const RUN_METRICS_EVENT = "metrics.run.updated";
export const RUN_STATUS_EVENT = "runs.status.changed";
/** `runs.leases.released` (broadcast by a runs node that hands its leases back): others claim at once. */
export const RUN_LEASES_RELEASED_EVENT = "runs.leases.released";
