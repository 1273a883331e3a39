import { z } from "zod";
import { SWEEP_METHODS, SWEEP_STATUSES, TRIAL_STATUSES } from "./sweep-status.ts";

/** The shapes the sweeps API and service share: one definition for validation and OpenAPI. */
export const SweepStatusSchema = z.enum(SWEEP_STATUSES).describe("Where the sweep is in its life.");
export const TrialStatusSchema = z.enum(TRIAL_STATUSES).describe("Where the trial is in its life.");

const RungSchema = z
  .object({
    rung: z.number().int().describe("Env steps of the rung."),
    value: z.number().nullable().describe("The trial's metric there."),
    n: z.number().int().describe("Trials that had reached the rung, this one included."),
    keep: z.number().int().describe("How many of them may continue: ⌈n/η⌉."),
    cutoff: z.number().nullable().describe("The keep-th best value at the rung then."),
    continued: z.boolean(),
  })
  .meta({ title: "RungRecord" });

export const PublicTrialSchema = z
  .object({
    id: z.uuid(),
    index: z.number().int(),
    status: TrialStatusSchema,
    params: z.record(z.string(), z.unknown()).describe("The searched hyperparameters."),
    seed: z.number().int(),
    runId: z.uuid().describe("The trial's run (GET /runs/:id; it exists once the trial has started)."),
    totalSteps: z.number().int(),
    steps: z.number().int().describe("Env steps the trial's run has done."),
    iteration: z.number().int(),
    lastMetric: z.number().nullable(),
    finalMetric: z.number().nullable(),
    evaluationReturn: z
      .number()
      .nullable()
      .describe(
        "The mean return of the deterministic evaluation of the trial's final policy (its run's `evaluation`), once the run completed.",
      ),
    rungs: z.array(RungSchema).describe("The metric at each ASHA rung reached, and the decision there."),
    pruned: z
      .object({ rung: z.number().int(), value: z.number().nullable(), cutoff: z.number().nullable() })
      .nullable()
      .describe("When ASHA stopped the trial: the rung, its value there and the cut it missed."),
    member: z.number().int().nullable().describe("PBT population slot."),
    generation: z.number().int().nullable().describe("PBT generation (segment)."),
    lineage: z
      .object({
        parentTrialId: z.uuid(),
        initFrom: z.object({ runId: z.uuid(), iteration: z.number().int() }),
        exploited: z.boolean(),
        perturbations: z.record(
          z.string(),
          z.object({ from: z.unknown(), to: z.unknown(), how: z.string() }),
        ),
      })
      .nullable()
      .describe("PBT: the checkpoint the segment started from and what explore changed."),
    failureReason: z.string().nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ title: "SweepTrial" });
export type PublicTrial = z.infer<typeof PublicTrialSchema>;

export const PublicSweepSchema = z
  .object({
    id: z.uuid(),
    ownerId: z.uuid(),
    name: z.string(),
    env: z.string(),
    method: z.enum(SWEEP_METHODS),
    status: SweepStatusSchema,
    definition: z.record(z.string(), z.unknown()).describe("The validated definition, defaults filled in."),
    best: z
      .object({
        trialId: z.uuid(),
        index: z.number().int(),
        runId: z.uuid(),
        metric: z.number().nullable(),
        params: z.record(z.string(), z.unknown()),
      })
      .nullable()
      .describe("The best trial by final metric (so far, while running)."),
    trialCounts: z.record(TrialStatusSchema, z.number().int()),
    failureReason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .meta({ title: "Sweep" });
export type PublicSweep = z.infer<typeof PublicSweepSchema>;

export const SweepWithTrialsSchema = PublicSweepSchema.extend({ trials: z.array(PublicTrialSchema) }).meta({
  title: "SweepWithTrials",
});
export type SweepWithTrials = z.infer<typeof SweepWithTrialsSchema>;

/** What a trial's live update carries (the WebSocket's `trial` message). */
export type TrialUpdate = Pick<
  PublicTrial,
  "id" | "index" | "status" | "runId" | "steps" | "iteration" | "lastMetric" | "finalMetric" | "rungs"
>;

/** `sweeps.trial.updated`: a trial's status or latest metric changed. */
export interface SweepTrialEvent {
  sweepId: string;
  ownerId: string;
  trial: TrialUpdate;
}

/** `sweeps.status.changed`. */
export interface SweepStatusEvent {
  sweepId: string;
  ownerId: string;
  status: z.infer<typeof SweepStatusSchema>;
}

export const SWEEP_TRIAL_EVENT = "sweeps.trial.updated";
export const SWEEP_STATUS_EVENT = "sweeps.status.changed";
