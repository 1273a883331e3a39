import { z } from "zod";
import { RunNameSchema, RunNotesSchema, RunTagsSchema } from "../../contracts/runs.ts";
import { envIdSchema } from "../../rl/envs/code-env.ts";
import { PRESETS } from "../../rl/ppo/hyperparameters.ts";

/** What launching a run takes, validated once for the API, the service and OpenAPI (what runs answer is in contracts/runs.ts). */
export const ResourcesInput = z
  .strictObject({
    runners: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe("Env runners (worker slots) the run uses; default 1."),
    envsPerRunner: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .optional()
      .describe("Envs per runner; default numEnvs / runners. When given, numEnvs = runners × envsPerRunner."),
    gpu: z.boolean().optional().describe("Run the learner on a GPU node (researchers and admins)."),
  })
  .describe("What the run asks of the worker pool.");

export const CreateRunInput = z
  .strictObject({
    env: envIdSchema,
    preset: z
      .enum(PRESETS)
      .optional()
      .describe("Hyperparameter preset the overrides apply to (default cleanrl)."),
    hyperparameters: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Overrides of the preset's PPO hyperparameters (see the hyperparameter schema)."),
    seed: z.number().int().min(0).max(0xffffffff).optional().describe("Seed of every random choice."),
    totalSteps: z.number().int().min(1).max(1e10).describe("Environment steps to train for."),
    resources: ResourcesInput.optional(),
    name: RunNameSchema.optional(),
    tags: RunTagsSchema.optional(),
    notes: RunNotesSchema.optional(),
    initFrom: z
      .strictObject({
        runId: z.uuid().describe("The run whose checkpoint this run starts from (one you may see)."),
        iteration: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe("Its checkpoint at this iteration; default latest."),
      })
      .optional()
      .describe(
        "Start from another run's checkpoint (weights, optimizer and env states, step) with this run's hyperparameters; numEnvs, hiddenSizes, activation and useSde must match. Used by PBT sweeps.",
      ),
  })
  .meta({ title: "CreateRun" });
export type CreateRunInput = z.infer<typeof CreateRunInput>;
