import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { ACTIVE_STATUSES, RUN_STATUSES } from "../../contracts/run-status.ts";
import type { RunEvaluation, RunQueue, RunResources } from "../../contracts/runs.ts";
import type { Hyperparameters } from "../../rl/ppo/hyperparameters.ts";
import { User } from "./User.ts";

/**
 * One PPO training run. `config` is the full resolved configuration (preset + overrides), so a run
 * never changes meaning when presets do. The lease (`ownerNode`, `leaseUntil`) names the one node that
 * hosts the run's actor (a virtual actor, as in Orleans), `leaseEpoch` fences it; `version` is the
 * optimistic lock of the run's status: it moves with every status change (a request's or the actor's),
 * never with progress or lease writes, so that stop, resume and delete race only with real changes.
 */
export const Run = defineEntity({
  name: "Run",
  tableName: "runs",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    owner: () => p.manyToOne(User).ref().deleteRule("cascade"),
    /** For people (contracts/runs.ts bounds them); a sweep's trial is named after its sweep. */
    name: p.text().nullable(),
    tags: p.array().default([]),
    notes: p.text().nullable(),
    /** The sweep that launched the run as its trial `trialIndex`; null for a run of its own. */
    sweepId: p.uuid().nullable(),
    trialIndex: p.integer().nullable(),
    envId: p.text(),
    preset: p.text().nullable(),
    config: p.json<Hyperparameters>(),
    seed: p.bigint("number"),
    totalSteps: p.bigint("number"),
    resources: p.json<RunResources>(),
    status: p.enum(RUN_STATUSES).default("queued"),
    iteration: p.integer().default(0),
    globalStep: p.bigint("number").default(0),
    failureReason: p.text().nullable(),
    ownerNode: p.text().nullable(),
    leaseUntil: p.datetime().nullable(),
    /**
     * The fencing token of the lease: every activation of the run's actor claims the lease by raising
     * it, and every write of that activation is conditional on it, so that a host whose lease was
     * taken over can no longer write (Kleppmann, "How to do distributed locking", 2016).
     */
    leaseEpoch: p.integer().default(0),
    /** Env runner slots serving the run now: fewer than `resources.runners` when it runs degraded. */
    runnersActive: p.integer().default(0),
    /**
     * When the run last entered the queue (created or resumed): FIFO within an owner, and the wait
     * after which it holds a reservation (actors/fair-share.ts).
     */
    queuedAt: p.datetime().defaultRaw("now()"),
    /**
     * When its pool's scheduler granted it its runner slots (null: it waits). Written under the
     * scheduler's lease, so that a failover cannot grant twice; a queued run starts only once granted.
     */
    grantedAt: p.datetime().nullable(),
    /** Its place in the fair-share queue and why it waits, as the scheduler last decided (queued runs only). */
    queue: p.json<RunQueue>().nullable(),
    /** The deterministic evaluation of the final policy, written with the run's completion. */
    evaluation: p.json<RunEvaluation>().nullable(),
    version: p.integer().version(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
  // Listing pages through one owner's runs newest first; the runs node scans its own leases. The
  // orphan scans and the schedulers ask for the active runs every few seconds: a partial index holds
  // just those, the few among a history of finished runs, instead of a scan of every run.
  indexes: [
    { properties: ["owner", "createdAt"] },
    { properties: ["ownerNode", "status"] },
    {
      name: "runs_active_status_index",
      expression: `create index "runs_active_status_index" on "runs" ("status") where "status" in (${ACTIVE_STATUSES.map((s) => `'${s}'`).join(", ")})`,
    },
  ],
});

export type Run = InferEntity<typeof Run>;
