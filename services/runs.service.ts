import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { type Lease, LeasedActorHost } from "../actors/leased-host.ts";
import { SchedulerActor } from "../actors/scheduler.ts";
import { type RunDescriptor, type RunEvents, TrainingRun } from "../actors/training-run.ts";
import type { Role } from "../contracts/roles.ts";
import type { RunStatus } from "../contracts/run-status.ts";
import {
  RUN_LEASES_RELEASED_EVENT,
  RUN_METRICS_EVENT,
  RUN_POOLS,
  RUN_STATUS_EVENT,
  type RunMetricsEvent,
  type RunPool,
  type RunStatusEvent,
} from "../contracts/runs.ts";
import { WORKERS_FREED_EVENT } from "../contracts/workers.ts";
import { Run } from "../db/entities/Run.ts";
import { Scheduler } from "../db/entities/Scheduler.ts";
import { ConflictError, NotFoundError } from "../lib/errors.ts";
import { isCodeEnvId } from "../rl/envs/code-env.ts";
import { implement } from "./action.ts";
import { call } from "./actions.ts";
import type { ServiceDeps } from "./deps.ts";
import {
  observeCheckpointWrite,
  recordLeaseLoss,
  recordLeaseTakeovers,
  recordRunnerLosses,
  recordRunnerReplacement,
} from "./metrics.ts";
import { RUNS_ACTIONS } from "./runs/actions.ts";
import { checkResumedCodeEnv, codeEnvCaps, usableCodeEnv } from "./runs/code-envs.ts";
import { envDims, storedEnvDims } from "./runs/compute.ts";
import {
  claimKey,
  deleteExpiredKeys,
  releaseKey,
  replayedRunGone,
  requestDigest,
} from "./runs/idempotency.ts";
import { seedCheckpoint, sourceCheckpoint } from "./runs/init-from.ts";
import { exportRunPolicy } from "./runs/policy-export.ts";
import { roleQuotas } from "./runs/quotas.ts";
import {
  checkRunLimits,
  listRuns,
  metricHistory,
  metricKeys,
  metricPage,
  reserveRunSlot,
  toPublicRun,
  updateRunMetadata,
  visibleRun,
  visibleRunId,
} from "./runs/records.ts";
import { RunReplays } from "./runs/replays.ts";
import { resolveRun } from "./runs/resolve.ts";
import { BrokerRunnerPool, poolCapacity } from "./runs/runner-pool.ts";
import { PgSchedulerStore, schedulerLeases } from "./runs/scheduler-store.ts";
import type { CreateRunInput } from "./runs/schemas.ts";
import {
  latestCheckpoint,
  PgRunStore,
  requestDelete,
  requestResume,
  requestStop,
  runLeases,
} from "./runs/store.ts";
import { effectiveQuota } from "./users/quotas.ts";

/**
 * Training runs. A run is a virtual actor (Orleans): the node whose lease is on the row (`ownerNode`,
 * `leaseUntil`, fenced by `leaseEpoch`) hosts its TrainingRun actor; the node that creates or resumes
 * a run takes the lease. Requests may land on any runs node: they write the database (the source of
 * truth: a stop request is a write, never only an event), then hint the hosting node, routed by `nodeID`.
 *
 * Failover. Every runs node renews the leases of its actors while it reaches the cluster (a NATS round
 * trip), and claims the active runs whose lease expired or was handed back, raising the epoch: the
 * previous host's writes are refused from then on, and its actor ends when it sees that. A node
 * that stops cleanly ends its actors after their current iteration, checkpoints, hands the leases
 * back and tells the other runs nodes, which claim them at once instead of after expiry.
 *
 * Scheduling. Queued runs get runner slots from their pool's scheduler (actors/scheduler.ts), one per
 * pool cluster-wide, hosted like a run under a lease on its `schedulers` row by whichever runs node
 * claims it: its grants are written under that lease, and a granted run's actor then reserves its runners.
 *
 * Every caller-facing action takes the caller (`userId`, `role`) and applies visibility itself:
 * another user's run is a 404, for the API and the WebSocket hub alike (`runs.visible`).
 */
/** How many orphaned runs one scan claims: a node takes its share, the others take the rest. */
const CLAIM_BATCH = 16;

/**
 * Whether this broker reaches the cluster now: a round trip to the NATS server (nats.js `rtt()`
 * fails at once while disconnected). A node that does not may not renew its leases: it could not
 * reach its runners, and another node should take its runs over. No transporter: always.
 */
async function clusterReachable(broker: ServiceBroker, timeoutMs: number): Promise<boolean> {
  const transit = broker.transit as unknown as
    | { tx?: { connected?: boolean; client?: { rtt?: () => Promise<number> } | null } }
    | undefined;
  if (!transit) return true;
  const tx = transit.tx;
  if (!tx?.client) return false;
  if (typeof tx.client.rtt !== "function") return tx.connected === true;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      tx.client.rtt(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("NATS round trip timed out")), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export default function runsService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  const logger = deps.logger.child({ svc: "runs" });
  const orm = db.orm;
  const fork = () => orm.em.fork();
  const quotas = roleQuotas(config);
  const ttl = config.RUN_LEASE_TTL_MS;
  /** What an environment defined by code may declare (checked at create and at resume). */
  const envCaps = codeEnvCaps(config);
  let lastKeySweep = 0;
  const replays = new RunReplays(orm);
  /** This node's broker, from the service's start (the host's claims build actors with it). */
  let broker: ServiceBroker;

  const statusEvent = (b: ServiceBroker, run: { id: string; ownerId: string }, status: RunStatus) => {
    const payload: RunStatusEvent = { runId: run.id, ownerId: run.ownerId, status };
    void b.broadcast(RUN_STATUS_EVENT, payload);
  };

  const events = (b: ServiceBroker): RunEvents => ({
    statusChanged: (run, status) => statusEvent(b, run, status),
    metrics: (run, point) => {
      const payload: RunMetricsEvent = { runId: run.id, ownerId: run.ownerId, ...point };
      void b.broadcast(RUN_METRICS_EVENT, payload);
    },
  });

  /** This node's actor for a run, under the lease it just took. */
  const newActor = (b: ServiceBroker, run: Run, lease: Lease) => {
    const descriptor: RunDescriptor = {
      id: run.id,
      ownerId: run.owner.id,
      envId: run.envId,
      config: run.config,
      resources: run.resources,
    };
    return new TrainingRun(
      descriptor,
      run.status,
      new PgRunStore(orm, lease, ttl),
      new BrokerRunnerPool(b, lease.epoch),
      events(b),
      {
        checkpointEvery: config.RUN_CHECKPOINT_EVERY,
        retryMs: config.RUN_SCHEDULE_INTERVAL_MS,
        runnerFailuresPerIteration: config.RUN_RUNNER_FAILURES_PER_ITERATION,
        evaluationEpisodes: config.RUN_EVAL_EPISODES,
        learnerMemoryMb: config.RUN_LEARNER_MEMORY_MB,
        metrics: {
          runnersLost: recordRunnerLosses,
          runnerReplaced: recordRunnerReplacement,
          checkpointWritten: observeCheckpointWrite,
        },
        log: logger,
      },
    );
  };

  /**
   * The runs this node hosts. It renews their leases while it reaches the cluster (a node that does
   * not could not reach its runners: another node should take its runs over), and claims orphans.
   */
  const host = new LeasedActorHost<TrainingRun>({
    kind: "run",
    leases: runLeases(orm, ttl),
    claimBatch: CLAIM_BATCH,
    intervalMs: Math.min(config.RUN_SCHEDULE_INTERVAL_MS, ttl / 3),
    renew: { reachable: () => clusterReachable(broker, Math.max(200, ttl / 3)) },
    async load(id, lease) {
      const run = await fork().findOne(Run, { id });
      if (run) logger.info({ runId: id, epoch: lease.epoch, status: run.status }, "took over a run");
      return run && newActor(broker, run, lease);
    },
    wakeRemote: (nodeID, runId) => call(broker, "runs.wake", { runId }, { nodeID }),
    async afterClaims() {
      if (Date.now() - lastKeySweep > 60_000) {
        lastKeySweep = Date.now();
        await deleteExpiredKeys(orm);
      }
    },
    onTakeovers: (count) => recordLeaseTakeovers("run", count),
    onLeaseLost: () => recordLeaseLoss("run"),
    log: logger,
  });
  const activate = (b: ServiceBroker, run: Run, lease: Lease) =>
    host.activate(run.id, lease, newActor(b, run, lease));

  const weights = {
    learner: config.FAIRSHARE_WEIGHT_LEARNER,
    researcher: config.FAIRSHARE_WEIGHT_RESEARCHER,
    admin: config.FAIRSHARE_WEIGHT_ADMIN,
  };
  /** This node's scheduler of a pool, under the lease it just took on the pool's row. */
  const newScheduler = (b: ServiceBroker, id: string, pool: RunPool, lease: Lease) =>
    new SchedulerActor(pool, new PgSchedulerStore(orm, id, pool, lease), {
      pollMs: config.RUN_SCHEDULE_INTERVAL_MS,
      reserveAfterMs: config.FAIRSHARE_RESERVE_AFTER_MS,
      weights,
      capacity: (p) => poolCapacity(b, p),
      granted: (run) => void host.hint(run.id, run.ownerNode),
      log: logger,
    });

  /**
   * The pools' schedulers (one per pool, cluster-wide): leased rows like runs, so that one runs node
   * schedules each pool at a time, and another takes over (claims the expired lease) when it dies.
   */
  const schedulers = new LeasedActorHost<SchedulerActor>({
    kind: "scheduler",
    leases: schedulerLeases(orm, ttl),
    claimBatch: RUN_POOLS.length,
    intervalMs: Math.min(config.RUN_SCHEDULE_INTERVAL_MS, ttl / 3),
    renew: { reachable: () => clusterReachable(broker, Math.max(200, ttl / 3)) },
    async load(id, lease) {
      const row = await fork().findOne(Scheduler, { id });
      if (row) logger.info({ pool: row.pool, epoch: lease.epoch }, "took over a pool's scheduler");
      return row && newScheduler(broker, id, row.pool, lease);
    },
    // Schedulers are woken by what every runs node hears (runs queued or ended, slots freed), not by id.
    wakeRemote: async () => undefined,
    onTakeovers: (count) => recordLeaseTakeovers("scheduler", count),
    onLeaseLost: () => recordLeaseLoss("scheduler"),
    log: logger,
  });
  /** Something a scheduler decides on changed: the schedulers this node hosts look now. */
  const wakeSchedulers = () => {
    for (const s of schedulers.actors()) s.wake();
  };

  /** Creates the run under a new lease of this node and starts its actor. */
  const createRun = async (
    b: ServiceBroker,
    userId: string,
    role: Role,
    input: CreateRunInput & { id?: string; sweep?: { id: string; trialIndex: number } },
    keyId?: string,
  ): Promise<Run> => {
    const em = fork();
    const codeEnv = isCodeEnvId(input.env)
      ? await usableCodeEnv(em, input.env, { userId, role }, envCaps)
      : undefined;
    const resolved = resolveRun(input, codeEnv?.spec);
    const q = await effectiveQuota(em, quotas, { userId, role });
    checkRunLimits(role, q, resolved, envDims(input.env, codeEnv?.spec));
    const source =
      input.initFrom && (await sourceCheckpoint(em, input.initFrom, { userId, role }, input.env, resolved));
    const run = await em.transactional(async (tx) => {
      // Count and insert under the owner's lock: parallel creates cannot all see a free slot.
      await reserveRunSlot(tx, { userId, role }, q);
      const created = tx.create(Run, {
        ...(input.id ? { id: input.id } : {}),
        owner: userId,
        name: input.name ?? null,
        tags: input.tags ?? [],
        notes: input.notes ?? null,
        sweepId: input.sweep?.id ?? null,
        trialIndex: input.sweep?.trialIndex ?? null,
        envId: input.env,
        preset: input.preset ?? "cleanrl",
        config: resolved.config,
        seed: resolved.config.seed,
        totalSteps: resolved.config.totalTimesteps,
        resources: resolved.resources,
        status: "queued",
        ownerNode: b.nodeID,
        leaseUntil: new Date(Date.now() + ttl),
        leaseEpoch: 1,
      });
      await tx.flush();
      if (source) await seedCheckpoint(tx, created.id, source, resolved.config);
      // The key gets its run in the run's own transaction: a key is answered iff its run exists.
      if (keyId)
        await tx.execute(`update "idempotency_keys" set "run_id" = ? where "id" = ?`, [created.id, keyId]);
      return created;
    });
    statusEvent(b, { id: run.id, ownerId: userId }, "queued");
    activate(b, run, { nodeID: b.nodeID, epoch: 1 });
    return run;
  };

  /** A conditional write lost its race: the run changed (or went) after the caller's request read it. */
  const raced = async (runId: string, what: string): Promise<ConflictError> => {
    const now = await fork().findOne(Run, { id: runId });
    return new ConflictError(
      now
        ? `another request changed the run first (it is ${now.status}); ${what} did not happen`
        : `another request deleted the run first; ${what} did not happen`,
      { status: now?.status ?? "deleted" },
    );
  };

  return {
    name: "runs",

    settings: {},

    dependencies: [],

    actions: implement(RUNS_ACTIONS, {
      async create(ctx) {
        const { userId, role, ...input } = ctx.params;
        return toPublicRun(await createRun(ctx.broker, userId, role, input));
      },

      /**
       * `create` under an Idempotency-Key: the same key and body give the same run (`replayed`), the
       * same key with another body a 422, and while the first request is in flight a 409.
       */
      async createOnce(ctx) {
        const { userId, role, idempotencyKey, ...input } = ctx.params;
        const claim = await claimKey(
          orm,
          userId,
          idempotencyKey,
          requestDigest(input),
          config.IDEMPOTENCY_KEY_TTL_S,
          config.REQUEST_TIMEOUT_MS,
        );
        if (claim.kind === "replay") {
          const run = await fork().findOne(Run, { id: claim.runId });
          if (!run) throw replayedRunGone();
          return { run: toPublicRun(run), replayed: true };
        }
        try {
          const run = await createRun(ctx.broker, userId, role, input, claim.keyId);
          return { run: toPublicRun(run), replayed: false };
        } catch (err) {
          await releaseKey(orm, claim.keyId).catch((e: unknown) =>
            logger.warn({ err: e }, "could not free an idempotency key"),
          );
          throw err;
        }
      },

      list(ctx) {
        const { userId: _u, role: _r, limit, ...filters } = ctx.params;
        return listRuns(fork(), ctx.params, { ...filters, limit: limit ?? 50 });
      },

      async get(ctx) {
        return toPublicRun(await visibleRun(fork(), ctx.params.runId, ctx.params));
      },

      /** Name, tags, notes (validated by the contract before anything is written). */
      async update(ctx) {
        const run = await visibleRun(fork(), ctx.params.runId, ctx.params);
        if (!(await updateRunMetadata(fork(), run.id, ctx.params.changes))) throw new NotFoundError("run");
        const updated = await fork().findOne(Run, { id: run.id });
        if (!updated) throw new NotFoundError("run");
        return toPublicRun(updated);
      },

      /** For the WebSocket hub: whether the user may watch the run, and where it stands. */
      async visible(ctx) {
        const run = await visibleRun(fork(), ctx.params.runId, ctx.params);
        return { ownerId: run.owner.id, status: run.status, iteration: run.iteration };
      },

      /**
       * A queued run stops at once; a running one is asked to, and stops within one iteration. One
       * conditional UPDATE: of concurrent stop, resume and delete requests exactly one changes the run,
       * the others get 409. A run that is not queued or running cannot be stopped (409).
       */
      async stop(ctx) {
        const before = await visibleRun(fork(), ctx.params.runId, ctx.params);
        if (before.status !== "queued" && before.status !== "running") {
          throw new ConflictError(`a ${before.status} run cannot be stopped`, { status: before.status });
        }
        const next = await requestStop(orm, ctx.params.runId);
        if (next === null) throw await raced(ctx.params.runId, "the stop");
        const run = await fork().findOne(Run, { id: ctx.params.runId });
        if (!run) throw new NotFoundError("run");
        statusEvent(ctx.broker, { id: run.id, ownerId: run.owner.id }, next);
        await host.hint(run.id, run.ownerNode);
        return toPublicRun(run);
      },

      /**
       * A stopped or failed run goes back to the queue on this node (a new lease); it continues from its
       * last checkpoint. Conditional on the version read: a concurrent stop, resume or delete wins or loses whole.
       */
      async resume(ctx) {
        const em = fork();
        const current = await visibleRun(em, ctx.params.runId, ctx.params);
        if (current.status !== "stopped" && current.status !== "failed") {
          throw new ConflictError(`a ${current.status} run cannot be resumed`, { status: current.status });
        }
        // A trial's run trains as long as its sweep says: resumed by hand it would train on, unfollowed.
        if (current.sweepId && !ctx.params.bySweep) {
          throw new ConflictError(
            `this run is trial #${current.trialIndex} of sweep ${current.sweepId}: resume the sweep, which resumes its stopped trials`,
            { status: current.status, sweepId: current.sweepId },
          );
        }
        if (isCodeEnvId(current.envId)) await checkResumedCodeEnv(em, current.envId, envCaps);
        // The caller's quota, as for the counting below (an admin resuming a run uses theirs).
        const q = await effectiveQuota(em, quotas, ctx.params);
        checkRunLimits(
          ctx.params.role,
          q,
          { config: current.config, resources: current.resources },
          await storedEnvDims(em, current.envId),
        );
        // The owner's active runs are counted under their lock, in the resume's own transaction.
        const lease = await em.transactional(async (tx) => {
          await reserveRunSlot(tx, { userId: current.owner.id, role: ctx.params.role }, q);
          return requestResume(tx, current.id, current.version, ctx.broker.nodeID, ttl);
        });
        if (!lease) throw await raced(current.id, "the resume");
        const run = await fork().findOne(Run, { id: current.id });
        if (!run) throw await raced(current.id, "the resume");
        statusEvent(ctx.broker, { id: run.id, ownerId: run.owner.id }, "queued");
        activate(ctx.broker, run, lease);
        return toPublicRun(run);
      },

      /**
       * Deletes the run with its metrics and checkpoints, stopping it first if it is active: one
       * conditional DELETE on the version read, so a concurrent stop, resume or delete wins or loses
       * whole. The host's next write finds no row (fencing); it is also told to end the actor now.
       */
      async delete(ctx) {
        const run = await visibleRun(fork(), ctx.params.runId, ctx.params);
        if (!(await requestDelete(orm, run.id, run.version))) throw await raced(run.id, "the delete");
        if (run.ownerNode === ctx.broker.nodeID) await host.actor(run.id)?.deactivate();
        else if (run.ownerNode) {
          await call(ctx.broker, "runs.deactivate", { runId: run.id }, { nodeID: run.ownerNode }).catch(
            (err: unknown) => logger.warn({ err, runId: run.id }, "the run's host did not answer"),
          );
        }
        return { deleted: true };
      },

      async metrics(ctx) {
        const em = fork();
        const runId = await visibleRunId(em, ctx.params.runId, ctx.params);
        const points = await metricHistory(em, runId, ctx.params.fromIteration ?? 0, ctx.params.maxPoints);
        return { runId, points };
      },

      async metricKeys(ctx) {
        const em = fork();
        const runId = await visibleRunId(em, ctx.params.runId, ctx.params);
        return { runId, ...(await metricKeys(em, runId)) };
      },

      async metricsPage(ctx) {
        const em = fork();
        const runId = await visibleRunId(em, ctx.params.runId, ctx.params);
        const { fromIteration, toIteration, limit } = ctx.params;
        return { points: await metricPage(em, runId, fromIteration, toIteration, limit) };
      },

      /** The latest checkpoint as rl's single-blob format (`encodeCheckpoint`). */
      async checkpoint(ctx) {
        const run = await visibleRun(fork(), ctx.params.runId, ctx.params);
        const c = await latestCheckpoint(orm, run.id);
        if (!c) throw new NotFoundError("checkpoint");
        return {
          runId: run.id,
          iteration: c.iteration,
          globalStep: c.globalStep,
          bytes: new Uint8Array(c.bytes),
        };
      },

      /** The latest checkpoint's deterministic policy as an ONNX model (rl/export/onnx.ts). */
      async policyOnnx(ctx) {
        const em = fork();
        const run = await visibleRun(em, ctx.params.runId, ctx.params);
        const c = await latestCheckpoint(orm, run.id);
        if (!c) throw new NotFoundError("checkpoint");
        return {
          runId: run.id,
          iteration: c.iteration,
          globalStep: c.globalStep,
          bytes: await exportRunPolicy(em, new Uint8Array(c.bytes)),
        };
      },

      /** An evaluation episode of the latest checkpoint, recorded in a thread (services/runs/replays.ts). */
      async replay(ctx) {
        const run = await visibleRun(fork(), ctx.params.runId, ctx.params);
        return replays.replay(run, ctx.params.episode ?? 0);
      },

      /** On the hosting node: a run's row changed (stop request), a waiting actor looks again now. */
      wake(ctx) {
        return { hosted: host.wake(ctx.params.runId) };
      },

      /** On the hosting node: ends the run's actor after its current message, releasing its runners. */
      async deactivate(ctx) {
        const actor = host.actor(ctx.params.runId);
        await actor?.deactivate();
        return { deactivated: actor !== undefined };
      },
    }),

    events: {
      /**
       * Slots came free somewhere: the pools' schedulers grant them now, and granted runs on this node
       * (a degraded run too) try to reserve now rather than at their next poll.
       */
      [WORKERS_FREED_EVENT]: {
        handler() {
          wakeSchedulers();
          for (const actor of host.actors()) actor.wake();
        },
      },

      /** A run was queued or ended: the schedulers look now rather than at their next poll. */
      [RUN_STATUS_EVENT]: {
        handler() {
          wakeSchedulers();
        },
      },

      /** A worker node joined: its slots are new capacity for its pool. */
      "$node.connected": {
        handler() {
          wakeSchedulers();
        },
      },

      /** Another runs node handed leases back: claim now rather than at the next scan (the scan is the truth). */
      [RUN_LEASES_RELEASED_EVENT]: {
        handler(ctx: Context<{ nodeID: string }>) {
          if (ctx.params.nodeID === ctx.broker.nodeID) return;
          host.maintain().catch((err: unknown) => logger.warn({ err }, "claiming handed-back runs failed"));
          schedulers
            .maintain()
            .catch((err: unknown) => logger.warn({ err }, "claiming handed-back schedulers failed"));
        },
      },
    },

    methods: {},

    async started() {
      broker = this.broker as ServiceBroker;
      await host.start(broker.nodeID);
      await schedulers.start(broker.nodeID);
    },

    /**
     * Drain (SIGTERM): every actor ends after its current iteration and checkpoints it, its lease is
     * handed back, and the other runs nodes are told so that they take the runs over at once.
     */
    async stopped() {
      const handedSchedulers = await schedulers.stop();
      const handed = await host.stop();
      if (handed.length > 0 || handedSchedulers.length > 0) {
        logger.info({ runs: handed.length, schedulers: handedSchedulers.length }, "handed leases back");
        await broker.broadcast(RUN_LEASES_RELEASED_EVENT, { nodeID: broker.nodeID, runIds: handed });
      }
    },
  };
}
