import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { SWEEP_STATUSES } from "../../contracts/sweep-status.ts";
import type { SweepDefinition } from "../../sweeps/definition.ts";
import { User } from "./User.ts";

/**
 * One hyperparameter sweep. `definition` is the validated definition (defaults filled in), so the
 * sweep never changes meaning. Like a run it is a virtual actor: the lease (`ownerNode`, `leaseUntil`,
 * fenced by `leaseEpoch`) names the one sweeps node that hosts its Sweep actor.
 */
export const Sweep = defineEntity({
  name: "Sweep",
  tableName: "sweeps",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    owner: () => p.manyToOne(User).ref().deleteRule("cascade"),
    name: p.text(),
    envId: p.text(),
    method: p.text(),
    definition: p.json<SweepDefinition>(),
    status: p.enum(SWEEP_STATUSES).default("running"),
    /** The best trial so far by its final metric (set as trials finish), and that metric. */
    bestTrialId: p.uuid().nullable(),
    bestMetric: p.double().runtimeType("number").$type<number>().nullable(),
    failureReason: p.text().nullable(),
    ownerNode: p.text().nullable(),
    leaseUntil: p.datetime().nullable(),
    leaseEpoch: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    finishedAt: p.datetime().nullable(),
  },
  indexes: [{ properties: ["owner", "createdAt"] }, { properties: ["status", "leaseUntil"] }],
});

export type Sweep = InferEntity<typeof Sweep>;
