import { randomUUID } from "node:crypto";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { type Lease, LeasedActorHost } from "../actors/leased-host.ts";
import { SweepActor, type SweepEvents } from "../actors/sweep.ts";
import { RUN_STATUS_EVENT, type RunStatusEvent } from "../contracts/runs.ts";
import type { SweepStatus } from "../contracts/sweep-status.ts";
import {
  type PublicSweep,
  SWEEP_STATUS_EVENT,
  SWEEP_TRIAL_EVENT,
  type SweepStatusEvent,
  type SweepTrialEvent,
} from "../contracts/sweeps.ts";
import { Sweep } from "../db/entities/Sweep.ts";
import { SweepTrial } from "../db/entities/SweepTrial.ts";
import { ConflictError } from "../lib/errors.ts";
import { implement } from "./action.ts";
import { call } from "./actions.ts";
import type { ServiceDeps } from "./deps.ts";
import { recordLeaseLoss, recordLeaseTakeovers } from "./metrics.ts";
import { codeEnvCaps } from "./runs/code-envs.ts";
import { roleQuotas } from "./runs/quotas.ts";
import { SWEEPS_ACTIONS } from "./sweeps/actions.ts";
import { BrokerTrialLauncher } from "./sweeps/launcher.ts";
import {
  checkDefinition,
  reserveSweepSlot,
  resultsCsv,
  sweepWithTrials,
  toPublicSweep,
  trialUpdate,
  visibleSweep,
} from "./sweeps/records.ts";
import { claimSweep, PgSweepStore, sweepLeases } from "./sweeps/store.ts";
import { effectiveQuota } from "./users/quotas.ts";

/**
 * Hyperparameter sweeps. A sweep is a virtual actor like a run (services/runs.service.ts): the node
 * holding its lease hosts its SweepActor; the node that creates or resumes a sweep takes the lease,
 * and when a host dies another sweeps node claims the expired lease and re-activates the actor from
 * the database. Requests write the database first (a stop request is a write), then hint the host.
 */
/** How many orphaned sweeps one scan claims. */
const CLAIM_BATCH = 8;

export default function sweepsService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  const logger = deps.logger.child({ svc: "sweeps" });
  const orm = db.orm;
  const fork = () => orm.em.fork();
  const quotas = roleQuotas(config);
  const ttl = config.RUN_LEASE_TTL_MS;
  // A sweep looks at its trials at least three times per lease period (each look renews the lease).
  const pollMs = Math.min(config.SWEEP_POLL_MS, ttl / 3);
  /** This node's broker, from the service's start (the host's claims build actors with it). */
  let broker: ServiceBroker;

  const events = (b: ServiceBroker): SweepEvents => ({
    trial: (sweep, trial) => {
      const payload: SweepTrialEvent = {
        sweepId: sweep.id,
        ownerId: sweep.ownerId,
        trial: trialUpdate(trial),
      };
      void b.broadcast(SWEEP_TRIAL_EVENT, payload);
    },
    status: (sweep, status) => statusEvent(b, { id: sweep.id, ownerId: sweep.ownerId }, status),
  });

  const statusEvent = (b: ServiceBroker, sweep: { id: string; ownerId: string }, status: SweepStatus) => {
    const payload: SweepStatusEvent = { sweepId: sweep.id, ownerId: sweep.ownerId, status };
    void b.broadcast(SWEEP_STATUS_EVENT, payload);
  };

  const newActor = (b: ServiceBroker, sweep: Sweep, lease: Lease) =>
    new SweepActor(
      { id: sweep.id, ownerId: sweep.owner.id, definition: sweep.definition },
      new PgSweepStore(orm, sweep.id, lease, ttl),
      new BrokerTrialLauncher(b, orm),
      events(b),
      { pollMs, log: logger, newRunId: randomUUID },
    );

  /** The sweeps this node hosts; each look of a sweep's actor renews its lease (its store's heartbeat). */
  const host = new LeasedActorHost<SweepActor>({
    kind: "sweep",
    leases: sweepLeases(orm, ttl),
    claimBatch: CLAIM_BATCH,
    intervalMs: Math.min(config.RUN_SCHEDULE_INTERVAL_MS, ttl / 3),
    async load(id, lease) {
      const sweep = await fork().findOne(Sweep, { id });
      if (sweep) logger.info({ sweepId: id, epoch: lease.epoch }, "took over a sweep");
      return sweep && newActor(broker, sweep, lease);
    },
    wakeRemote: (nodeID, sweepId) => call(broker, "sweeps.wake", { sweepId }, { nodeID }),
    onTakeovers: (count) => recordLeaseTakeovers("sweep", count),
    onLeaseLost: () => recordLeaseLoss("sweep"),
    log: logger,
  });
  const activate = (b: ServiceBroker, sweep: Sweep, lease: Lease) =>
    host.activate(sweep.id, lease, newActor(b, sweep, lease));

  return {
    name: "sweeps",

    settings: {},

    dependencies: [],

    actions: implement(SWEEPS_ACTIONS, {
      async create(ctx) {
        const { userId, role } = ctx.params;
        const em = fork();
        const q = await effectiveQuota(em, quotas, { userId, role });
        const { def, trials } = await checkDefinition(
          em,
          ctx.params.definition,
          { userId, role },
          q,
          codeEnvCaps(config),
        );
        const { sweep, lease } = await em.transactional(async (tx) => {
          await reserveSweepSlot(tx, { userId, role }, q);
          const created = tx.create(Sweep, {
            owner: userId,
            name: def.name,
            envId: def.env,
            method: def.method,
            definition: def,
            status: "running",
          });
          await tx.flush();
          for (const t of trials) {
            await tx.execute(
              `insert into "sweep_trials" ("id", "sweep_id", "index", "params", "seed", "total_steps", "run_id",
                 "status", "rungs", "member", "generation", "created_at", "updated_at", "steps", "iteration")
               values (?, ?, ?, ?::jsonb, ?, ?, ?, 'pending', '[]'::jsonb, ?, ?, now(), now(), 0, 0)`,
              [
                randomUUID(),
                created.id,
                t.index,
                JSON.stringify(t.params),
                t.seed,
                t.totalSteps,
                randomUUID(),
                t.member ?? null,
                t.generation ?? null,
              ],
            );
          }
          const claimed = await claimSweep(tx, created.id, ctx.broker.nodeID, ttl);
          return { sweep: created, lease: claimed! };
        });
        statusEvent(ctx.broker, { id: sweep.id, ownerId: userId }, "running");
        activate(ctx.broker, sweep, lease);
        return sweepWithTrials(fork(), sweep);
      },

      async list(ctx) {
        const { userId, role, status, limit } = ctx.params;
        const em = fork();
        const sweeps = await em.find(
          Sweep,
          { ...(role === "admin" ? {} : { owner: userId }), ...(status ? { status } : {}) },
          { orderBy: { createdAt: "desc", id: "desc" }, limit: limit ?? 50 },
        );
        const trials = await em.find(SweepTrial, { sweep: { $in: sweeps.map((s) => s.id) } });
        const items: PublicSweep[] = sweeps.map((s) =>
          toPublicSweep(
            s,
            trials.filter((t) => t.sweep.id === s.id),
          ),
        );
        return { items };
      },

      async get(ctx) {
        const em = fork();
        return sweepWithTrials(em, await visibleSweep(em, ctx.params.sweepId, ctx.params));
      },

      /** For the WebSocket hub: whether the user may watch the sweep, and where it stands. */
      async visible(ctx) {
        const em = fork();
        const sweep = await visibleSweep(em, ctx.params.sweepId, ctx.params);
        const full = await sweepWithTrials(em, sweep);
        return { ownerId: sweep.owner.id, status: sweep.status, trials: full.trials };
      },

      async results(ctx) {
        const em = fork();
        const sweep = await visibleSweep(em, ctx.params.sweepId, ctx.params);
        const full = await sweepWithTrials(em, sweep);
        return { name: sweep.name, csv: resultsCsv(sweep, full.trials) };
      },

      /** A running sweep is asked to stop: its actor stops every trial's run, then marks it stopped. */
      async stop(ctx) {
        const em = fork();
        const sweep = await visibleSweep(em, ctx.params.sweepId, ctx.params);
        const rows = await em.execute<{ id: string }[]>(
          `update "sweeps" set "status" = 'stopping', "updated_at" = now() where "id" = ? and "status" = 'running' returning "id"`,
          [sweep.id],
        );
        if (rows.length === 0 && sweep.status !== "stopping") {
          throw new ConflictError(`the sweep is already ${sweep.status}`, { status: sweep.status });
        }
        statusEvent(ctx.broker, { id: sweep.id, ownerId: sweep.owner.id }, "stopping");
        await host.hint(sweep.id, sweep.ownerNode);
        const { trials: _trials, ...summary } = await sweepWithTrials(
          fork(),
          (await fork().findOne(Sweep, { id: sweep.id }))!,
        );
        return summary;
      },

      /** A stopped sweep runs again on this node: its stopped trials resume, its pending ones start. */
      async resume(ctx) {
        const em = fork();
        const sweep = await visibleSweep(em, ctx.params.sweepId, ctx.params);
        const q = await effectiveQuota(em, quotas, ctx.params);
        const lease = await em.transactional(async (tx) => {
          // The owner's sweeps counted against the caller's quota, as runs' resume does.
          if (sweep.status === "stopped" || sweep.status === "failed")
            await reserveSweepSlot(tx, { userId: sweep.owner.id, role: ctx.params.role }, q);
          const rows = await tx.execute<{ id: string }[]>(
            `update "sweeps" set "status" = 'running', "finished_at" = null, "failure_reason" = null,
               "best_trial_id" = null, "best_metric" = null, "updated_at" = now()
             where "id" = ? and "status" in ('stopped', 'failed') returning "id"`,
            [sweep.id],
          );
          if (rows.length === 0) return null;
          await tx.execute(
            `update "sweep_trials" set "status" = 'pending', "finished_at" = null, "updated_at" = now()
             where "sweep_id" = ? and "status" = 'stopped'`,
            [sweep.id],
          );
          return claimSweep(tx, sweep.id, ctx.broker.nodeID, ttl);
        });
        if (!lease)
          throw new ConflictError(`a ${sweep.status} sweep cannot be resumed`, { status: sweep.status });
        const fresh = (await fork().findOne(Sweep, { id: sweep.id }))!;
        statusEvent(ctx.broker, { id: sweep.id, ownerId: sweep.owner.id }, "running");
        activate(ctx.broker, fresh, lease);
        const { trials: _trials, ...summary } = await sweepWithTrials(fork(), fresh);
        return summary;
      },

      /** On the hosting node: the sweep's row changed (a stop request), its actor looks now. */
      wake(ctx) {
        return { hosted: host.wake(ctx.params.sweepId) };
      },
    }),

    events: {
      /** A trial's run changed status (ended, most usefully): its sweep looks now, not at its next poll. */
      [RUN_STATUS_EVENT]: {
        handler(ctx: Context<RunStatusEvent>) {
          for (const actor of host.actors()) if (actor.watches(ctx.params.runId)) actor.wake();
        },
      },
    },

    methods: {},

    async started() {
      broker = this.broker as ServiceBroker;
      await host.start(broker.nodeID);
    },

    /** Drain: every actor ends after its current look and hands its lease back for another node to claim. */
    async stopped() {
      await host.stop();
    },
  };
}
