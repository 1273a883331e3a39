/**
 * A sweep definition: what to search, how, and what to optimise. The same document arrives as JSON
 * (the API) or YAML (the CLI's `sweep.yaml`, parsed by `parseSweepYaml`); both go through one zod
 * schema, and every problem names the offending key (`searchSpace.learningRate.loguniform`, `maxTrials`).
 *
 * What cannot be checked here because it needs rl/'s hyperparameter schema for a given env and preset
 * (bounds of each sampled value, divisibility of the batch) is checked by `expandTrials` in trials.ts.
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { SWEEP_METHODS } from "../contracts/sweep-status.ts";
import { envIdSchema } from "../rl/envs/code-env.ts";
import { hyperparametersSchema, PRESETS } from "../rl/ppo/hyperparameters.ts";
import { DISTRIBUTION_KINDS, type Distribution, type SearchSpace } from "./space.ts";

/** The hyperparameters a sweep may search: rl's schema, less those the definition sets itself. */
export const SEARCHABLE = Object.keys(hyperparametersSchema.shape).filter(
  (k) => k !== "totalTimesteps" && k !== "seed",
);

/**
 * What a PBT member may not change between segments: its checkpoint (the network, the env states
 * and the batch layout) would no longer fit.
 */
export const PBT_FIXED = ["numEnvs", "numSteps", "hiddenSizes", "activation", "useSde"] as const;

export class SweepDefinitionError extends Error {
  override name = "SweepDefinitionError";
  constructor(readonly issues: { field: string; message: string }[]) {
    super(`invalid sweep: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`);
  }
}

const finite = z.number().refine(Number.isFinite, "must be a finite number");

/** Most values a randint may span: what `Rng.int` draws from (rl/core/rng.ts). */
export const RANDINT_MAX_SPAN = 0x100000000;
const SPAN_MESSAGE = "high − low must be a finite number";

/** One parameter's distribution, `{kind: args}` as written in the definition. */
const DistributionInput = z
  .record(z.string(), z.unknown())
  .describe(
    "Exactly one of: values: [..] (grid axis), choice: [..], uniform: [low, high], loguniform: [low, high], quniform: [low, high, q], randint: [low, high) .",
  );

const AshaInput = z
  .strictObject({
    type: z.literal("asha"),
    gracePeriod: z
      .number()
      .int()
      .min(1)
      .describe("Env steps before the first rung: no trial is stopped earlier (ASHA's minimum resource r)."),
    reductionFactor: z
      .number()
      .min(2)
      .max(16)
      .default(3)
      .describe("η: at each rung only the top 1/η of the trials that reached it continue."),
    rungs: z
      .array(z.number().int().min(1))
      .min(1)
      .max(32)
      .optional()
      .describe("Rungs in env steps; default gracePeriod · η^k below totalSteps."),
  })
  .describe("Early stopping by ASHA (Li et al. 2020).");

const PbtInput = z
  .strictObject({
    perturbationInterval: z
      .number()
      .int()
      .min(1)
      .describe("Env steps per PBT segment: after each, the bottom quantile exploits the top quantile."),
    quantile: z
      .number()
      .gt(0)
      .max(0.5)
      .default(0.25)
      .describe("Fraction of the population that is bottom (and top) at each exploit step."),
    resampleProbability: z
      .number()
      .min(0)
      .max(1)
      .default(0.25)
      .describe("Chance that explore resamples a hyperparameter instead of multiplying it by 0.8 or 1.2."),
  })
  .describe("Population-based training (Jaderberg et al. 2017); the population is maxTrials.");

export const SweepDefinitionInput = z
  .strictObject({
    name: z.string().min(1).max(200).describe("A name for people."),
    env: envIdSchema,
    preset: z.enum(PRESETS).default("cleanrl").describe("Preset the hyperparameters apply to."),
    hyperparameters: z
      .record(z.string(), z.unknown())
      .default({})
      .describe("Fixed overrides of the preset, shared by every trial."),
    totalSteps: z.number().int().min(1).max(1e10).describe("Env steps per trial."),
    seeds: z
      .array(z.number().int().min(0).max(0xffffffff))
      .min(1)
      .max(16)
      .default([1])
      .describe("Each configuration is trained once per seed (the run's seed)."),
    searchSpace: z
      .record(z.string(), DistributionInput)
      .describe("Per hyperparameter, its distribution (see DistributionInput)."),
    method: z.enum(SWEEP_METHODS).default("grid").describe("grid, random or pbt."),
    maxTrials: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .describe("Most trials (runs); random draws this many; the PBT population size."),
    maxConcurrent: z.number().int().min(1).max(256).default(4).describe("Trials running at once."),
    metric: z.string().min(1).max(100).default("charts/episodic_return").describe("Metric to optimise."),
    mode: z.enum(["max", "min"]).default("max").describe("Whether a larger metric is better."),
    earlyStopping: AshaInput.optional(),
    pbt: PbtInput.optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(0xffffffff)
      .default(0)
      .describe("Sampler seed: the same definition draws the same trials."),
    resources: z
      .strictObject({
        runners: z.number().int().min(1).max(256).optional(),
        envsPerRunner: z.number().int().min(1).max(4096).optional(),
        gpu: z.boolean().optional(),
      })
      .optional()
      .describe("What each trial's run asks of the worker pool (as for a run)."),
  })
  .meta({ title: "SweepDefinition" });

export type SweepDefinitionInput = z.input<typeof SweepDefinitionInput>;

export type SweepDefinition = Omit<z.output<typeof SweepDefinitionInput>, "searchSpace"> & {
  searchSpace: SearchSpace;
};

type Issue = { field: string; message: string };

function reject(issues: Issue[], issue: Issue): null {
  issues.push(issue);
  return null;
}

function numberArgs(raw: unknown, n: number, field: string, issues: Issue[]): number[] | null {
  if (!Array.isArray(raw) || raw.length !== n || !raw.every((x) => finite.safeParse(x).success)) {
    issues.push({ field, message: `must be ${n} finite numbers` });
    return null;
  }
  return raw as number[];
}

/** One parameter's distribution, or null with the problems recorded under `searchSpace.<key>…`. */
function parseDistribution(key: string, raw: Record<string, unknown>, issues: Issue[]): Distribution | null {
  const at = `searchSpace.${key}`;
  const kinds = Object.keys(raw);
  if (kinds.length !== 1) {
    issues.push({ field: at, message: `must have exactly one of ${DISTRIBUTION_KINDS.join(", ")}` });
    return null;
  }
  const kind = kinds[0]!;
  const arg = raw[kind];
  const field = `${at}.${kind}`;
  switch (kind) {
    case "values":
    case "choice":
      if (!Array.isArray(arg) || arg.length === 0) {
        issues.push({ field, message: "must be a non-empty list (an empty space has no trial)" });
        return null;
      }
      return { kind, values: arg };
    case "uniform":
    case "loguniform": {
      const a = numberArgs(arg, 2, field, issues);
      if (!a) return null;
      const [low, high] = a as [number, number];
      if (!(low < high)) return reject(issues, { field, message: "bounds reversed: need low < high" });
      if (!Number.isFinite(high - low)) return reject(issues, { field, message: SPAN_MESSAGE });
      if (kind === "loguniform" && low <= 0)
        return reject(issues, { field, message: "loguniform bounds must be > 0" });
      return { kind, low, high };
    }
    case "quniform": {
      const a = numberArgs(arg, 3, field, issues);
      if (!a) return null;
      const [low, high, q] = a as [number, number, number];
      if (!(low < high)) return reject(issues, { field, message: "bounds reversed: need low < high" });
      if (!(q > 0)) return reject(issues, { field, message: "q must be > 0" });
      if (![high - low, low / q, high / q].every(Number.isFinite))
        return reject(issues, { field, message: `${SPAN_MESSAGE}, in steps of q` });
      return { kind, low, high, q };
    }
    case "randint": {
      const a = numberArgs(arg, 2, field, issues);
      if (!a) return null;
      const [low, high] = a as [number, number];
      if (!Number.isInteger(low) || !Number.isInteger(high))
        return reject(issues, { field, message: "randint bounds must be integers" });
      if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high))
        return reject(issues, { field, message: "randint bounds must lie within ±(2^53 − 1)" });
      if (!(low < high))
        return reject(issues, { field, message: "bounds reversed: need low < high (high excluded)" });
      // The sampler draws from 2^32 values (rl/core/rng.ts, Rng.int); a wider range was a 500.
      if (high - low > RANDINT_MAX_SPAN)
        return reject(issues, {
          field,
          message: `randint spans ${high - low} values; at most ${RANDINT_MAX_SPAN} (2^32)`,
        });
      return { kind, low, high };
    }
    default:
      issues.push({
        field: `${at}.${kind}`,
        message: `unknown distribution (one of ${DISTRIBUTION_KINDS.join(", ")})`,
      });
      return null;
  }
}

/** Validates a definition (JSON already parsed); throws SweepDefinitionError naming every bad key. */
export function parseSweepDefinition(raw: unknown): SweepDefinition {
  const parsed = SweepDefinitionInput.safeParse(raw);
  const issues: Issue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      if (i.code === "unrecognized_keys")
        for (const k of i.keys)
          issues.push({ field: [...i.path, k].join("."), message: "is not a known field" });
      else issues.push({ field: i.path.map(String).join(".") || "(root)", message: i.message });
    }
    throw new SweepDefinitionError(issues);
  }
  const d = parsed.data;
  const space: SearchSpace = {};
  const keys = Object.keys(d.searchSpace);
  if (keys.length === 0)
    issues.push({ field: "searchSpace", message: "is empty: name at least one parameter" });
  for (const key of keys) {
    if (!SEARCHABLE.includes(key)) {
      const hint =
        key === "totalTimesteps" || key === "seed" ? ` (use ${key === "seed" ? "seeds" : "totalSteps"})` : "";
      issues.push({ field: `searchSpace.${key}`, message: `unknown hyperparameter${hint}` });
      continue;
    }
    if (key in d.hyperparameters)
      issues.push({ field: `searchSpace.${key}`, message: "is also fixed in hyperparameters" });
    const dist = parseDistribution(key, d.searchSpace[key]!, issues);
    if (dist) space[key] = dist;
  }
  if (d.method === "pbt") {
    if (!d.pbt) issues.push({ field: "pbt", message: "is required with method pbt" });
    else if (d.pbt.perturbationInterval >= d.totalSteps)
      issues.push({ field: "pbt.perturbationInterval", message: "must be below totalSteps" });
    if (d.earlyStopping) issues.push({ field: "earlyStopping", message: "does not apply to pbt" });
    if (d.maxTrials < 2) issues.push({ field: "maxTrials", message: "a PBT population needs at least 2" });
    if (d.seeds.length > 1) issues.push({ field: "seeds", message: "PBT members take one seed" });
    for (const key of PBT_FIXED)
      if (key in space)
        issues.push({ field: `searchSpace.${key}`, message: "PBT cannot change it between segments" });
  } else if (d.pbt) {
    issues.push({ field: "pbt", message: "applies only to method pbt" });
  }
  if (d.earlyStopping) {
    if (d.earlyStopping.gracePeriod >= d.totalSteps)
      issues.push({ field: "earlyStopping.gracePeriod", message: "must be below totalSteps" });
    const rungs = d.earlyStopping.rungs;
    if (rungs?.some((r, i) => r >= d.totalSteps || (i > 0 && r <= rungs[i - 1]!)))
      issues.push({ field: "earlyStopping.rungs", message: "must increase and stay below totalSteps" });
  }
  if (d.maxConcurrent > d.maxTrials && d.method !== "pbt") {
    // Harmless, but a sign of a typo: say so rather than silently clamp.
    issues.push({ field: "maxConcurrent", message: "must not exceed maxTrials" });
  }
  if (issues.length > 0) throw new SweepDefinitionError(issues);
  return { ...d, searchSpace: space };
}

/** A YAML sweep file (the CLI's `-f sweep.yaml`): YAML syntax errors are reported with their line. */
export function parseSweepYaml(text: string): SweepDefinition {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new SweepDefinitionError([{ field: "(yaml)", message: (err as Error).message }]);
  }
  return parseSweepDefinition(raw);
}
