import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { RUN_POOLS } from "../../contracts/runs.ts";

/**
 * The fair-share scheduler of one worker pool (actors/scheduler.ts), as a leased row like a run's or
 * a sweep's: the runs node holding the lease (`ownerNode`, `leaseUntil`, fenced by `leaseEpoch`) runs
 * the pool's one scheduler, and every grant it writes is conditional on that lease, so that two
 * schedulers never grant the same slots. One row per pool, inserted by the migration; `status` is
 * always `active` (the lease store claims active rows).
 */
export const Scheduler = defineEntity({
  name: "Scheduler",
  tableName: "schedulers",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    pool: p.enum(RUN_POOLS).unique(),
    status: p.text().default("active"),
    ownerNode: p.text().nullable(),
    leaseUntil: p.datetime().nullable(),
    leaseEpoch: p.integer().default(0),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export type Scheduler = InferEntity<typeof Scheduler>;
