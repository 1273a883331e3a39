import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { type RungRecord, TRIAL_STATUSES, type TrialLineage } from "../../contracts/sweep-status.ts";
import { Sweep } from "./Sweep.ts";

/**
 * One trial: one configuration and seed, trained as one run. The run's id is chosen when the row is
 * written, before the run is created: a sweep re-activated on another node finds either the run or
 * nothing under that id, so a trial never gets two runs. Unique on (sweep, index).
 */
export const SweepTrial = defineEntity({
  name: "SweepTrial",
  tableName: "sweep_trials",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    sweep: () => p.manyToOne(Sweep).ref().deleteRule("cascade"),
    index: p.integer(),
    /** The searched hyperparameters (the fixed ones are the sweep definition's). */
    params: p.json<Record<string, unknown>>(),
    seed: p.bigint("number"),
    totalSteps: p.bigint("number"),
    runId: p.uuid(),
    status: p.enum(TRIAL_STATUSES).default("pending"),
    /** The value at each ASHA rung reached, in rung order. */
    rungs: p.json<RungRecord[]>(),
    prunedRung: p.bigint("number").nullable(),
    /** The trial's own value at the rung that pruned it, and the cut it missed. */
    prunedValue: p.double().runtimeType("number").$type<number>().nullable(),
    prunedCutoff: p.double().runtimeType("number").$type<number>().nullable(),
    /** Latest value of the sweep's metric, and at which step; `finalMetric` once the trial ended. */
    lastMetric: p.double().runtimeType("number").$type<number>().nullable(),
    finalMetric: p.double().runtimeType("number").$type<number>().nullable(),
    steps: p.bigint("number").default(0),
    iteration: p.integer().default(0),
    /** PBT: population slot, generation, and where the segment started from. */
    member: p.integer().nullable(),
    generation: p.integer().nullable(),
    lineage: p.json<TrialLineage>().nullable(),
    failureReason: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ["sweep", "index"] }, { properties: ["runId"] }],
});

export type SweepTrial = InferEntity<typeof SweepTrial>;
