import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { ACTIVE_STATUSES, assertTransition } from "../actors/run-state.ts";
import { type RunDescriptor, type RunEvents, TrainingRun } from "../actors/training-run.ts";
import { RUN_STATUSES, Run, type RunStatus } from "../db/entities/Run.ts";
import { ROLES, type Role } from "../db/entities/User.ts";
import { ConflictError, NotFoundError } from "../lib/errors.ts";
import type { ServiceDeps } from "./deps.ts";
import {
  type Caller,
  checkQuota,
  listRuns,
  metricHistory,
  resolveRun,
  toPublicRun,
  visibleRun,
} from "./runs/records.ts";
import { BrokerRunnerPool } from "./runs/runner-pool.ts";
import {
  type CreateRunInput,
  type PublicRun,
  RUN_METRICS_EVENT,
  RUN_STATUS_EVENT,
  type RunMetricsEvent,
  type RunStatusEvent,
} from "./runs/schemas.ts";
import { latestCheckpoint, PgRunStore, requestStop, updateRun } from "./runs/store.ts";
import { WORKERS_FREED_EVENT } from "./workers.service.ts";

/**
 * Training runs. A run is a virtual actor: the node whose lease is on the row (`ownerNode`,
 * `leaseUntil`) hosts its TrainingRun actor; the node that creates or resumes a run takes the lease.
 * Requests may land on any runs node: they write the database (the source of truth: a stop request is
 * a write, never only an event), then hint the hosting node, routed by `nodeID`.
 *
 * Every caller-facing action takes the caller (`userId`, `role`) and applies visibility itself:
 * another user's run is a 404, for the API and the WebSocket hub alike (`runs.visible`).
 */
const CALLER = { userId: "uuid", role: { type: "enum", values: [...ROLES] } } as const;
const RUN_CALLER = { runId: "uuid", ...CALLER } as const;

type CallerParams = { userId: string; role: Role };
type RunParams = CallerParams & { runId: string };

const caller = (p: CallerParams): Caller => ({ userId: p.userId, role: p.role });

export default function runsService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  const logger = deps.logger.child({ svc: "runs" });
  const orm = db.orm;
  const fork = () => orm.em.fork();
  const actors = new Map<string, TrainingRun>();
  let broker: ServiceBroker | undefined;
  let timer: NodeJS.Timeout | undefined;

  const leaseUntil = () => new Date(Date.now() + config.RUN_LEASE_TTL_MS);

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

  /** Starts this node's actor for a run it holds the lease on (once: an active actor is kept). */
  const activate = (b: ServiceBroker, run: Run) => {
    if (actors.get(run.id)?.active) return;
    const descriptor: RunDescriptor = {
      id: run.id,
      ownerId: run.owner.id,
      envId: run.envId,
      config: run.config,
      resources: run.resources,
    };
    const actor = new TrainingRun(
      descriptor,
      run.status,
      new PgRunStore(orm, b.nodeID, config.RUN_LEASE_TTL_MS),
      new BrokerRunnerPool(b),
      events(b),
      { checkpointEvery: config.RUN_CHECKPOINT_EVERY, retryMs: config.RUN_SCHEDULE_INTERVAL_MS, log: logger },
    );
    actors.set(run.id, actor);
    void actor.ended.then(() => {
      if (actors.get(run.id) === actor) actors.delete(run.id);
    });
    actor.activate();
  };

  /** Tells the hosting node that the run's row changed; the row itself is what counts. */
  const hint = async (b: ServiceBroker, run: Run) => {
    if (!run.ownerNode) return;
    if (run.ownerNode === b.nodeID) actors.get(run.id)?.wake();
    else await b.call("runs.wake", { runId: run.id }, { nodeID: run.ownerNode }).catch(() => undefined);
  };

  /** Renews the leases of this node's actors, and activates the active runs it owns but does not host. */
  const maintain = async (b: ServiceBroker) => {
    const hosted = [...actors.keys()];
    if (hosted.length > 0) {
      // Plain SQL on purpose: the ORM's nativeUpdate bumps `version`, and a lease renewal must not make
      // the run's concurrent status writes fail their optimistic lock.
      await fork()
        .getConnection()
        .execute("update runs set lease_until = ? where id in (?) and owner_node = ?", [
          leaseUntil(),
          hosted,
          b.nodeID,
        ]);
    }
    const owned = await fork().find(Run, { ownerNode: b.nodeID, status: { $in: [...ACTIVE_STATUSES] } });
    for (const run of owned) activate(b, run);
  };

  return {
    name: "runs",

    settings: {},

    dependencies: [],

    actions: {
      create: {
        visibility: "public",
        params: {
          ...CALLER,
          env: "string",
          preset: { type: "string", optional: true },
          hyperparameters: { type: "object", optional: true },
          seed: { type: "number", integer: true, optional: true },
          totalSteps: { type: "number", integer: true, positive: true },
          resources: { type: "object", optional: true },
        },
        async handler(ctx: Context<CallerParams & CreateRunInput>): Promise<PublicRun> {
          const { userId, role, ...input } = ctx.params;
          const resolved = resolveRun(input);
          const em = fork();
          await checkQuota(em, { userId, role }, resolved);
          const run = em.create(Run, {
            owner: userId,
            envId: input.env,
            preset: input.preset ?? "cleanrl",
            config: resolved.config,
            seed: resolved.config.seed,
            totalSteps: resolved.config.totalTimesteps,
            resources: resolved.resources,
            status: "queued",
            ownerNode: ctx.broker.nodeID,
            leaseUntil: leaseUntil(),
          });
          await em.flush();
          statusEvent(ctx.broker, { id: run.id, ownerId: userId }, "queued");
          activate(ctx.broker, run);
          return toPublicRun(run);
        },
      },

      list: {
        visibility: "public",
        params: {
          ...CALLER,
          status: { type: "enum", values: [...RUN_STATUSES], optional: true },
          env: { type: "string", optional: true },
          limit: { type: "number", integer: true, min: 1, max: 100, optional: true },
          cursor: { type: "string", optional: true },
        },
        handler(
          ctx: Context<CallerParams & { status?: RunStatus; env?: string; limit?: number; cursor?: string }>,
        ) {
          const { status, env, limit, cursor } = ctx.params;
          return listRuns(fork(), caller(ctx.params), { status, env, limit: limit ?? 50, cursor });
        },
      },

      get: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>): Promise<PublicRun> {
          return toPublicRun(await visibleRun(fork(), ctx.params.runId, caller(ctx.params)));
        },
      },

      /** For the WebSocket hub: whether the user may watch the run, and where it stands. */
      visible: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>) {
          const run = await visibleRun(fork(), ctx.params.runId, caller(ctx.params));
          return { ownerId: run.owner.id, status: run.status, iteration: run.iteration };
        },
      },

      /** A queued run stops at once; a running one is asked to, and stops within one iteration. */
      stop: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>): Promise<PublicRun> {
          await visibleRun(fork(), ctx.params.runId, caller(ctx.params));
          const next = await requestStop(orm, ctx.params.runId);
          const run = await fork().findOne(Run, { id: ctx.params.runId });
          if (!run) throw new NotFoundError("run");
          if (next === null && (run.status === "completed" || run.status === "failed")) {
            throw new ConflictError(`the run is already ${run.status}`, { status: run.status });
          }
          if (next) {
            statusEvent(ctx.broker, { id: run.id, ownerId: run.owner.id }, next);
            await hint(ctx.broker, run);
          }
          return toPublicRun(run);
        },
      },

      /** A stopped or failed run goes back to the queue on this node; it continues from its last checkpoint. */
      resume: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>): Promise<PublicRun> {
          const em = fork();
          const current = await visibleRun(em, ctx.params.runId, caller(ctx.params));
          if (current.status !== "stopped" && current.status !== "failed") {
            throw new ConflictError(`a ${current.status} run cannot be resumed`, { status: current.status });
          }
          await checkQuota(
            em,
            { userId: current.owner.id, role: ctx.params.role },
            {
              config: current.config,
              resources: current.resources,
            },
          );
          const result = await updateRun(orm, ctx.params.runId, (run) => {
            assertTransition(run.status, "queued");
            run.status = "queued";
            run.ownerNode = ctx.broker.nodeID;
            run.leaseUntil = leaseUntil();
            run.failureReason = null;
            run.finishedAt = null;
            return true;
          });
          if (!result) throw new NotFoundError("run");
          statusEvent(ctx.broker, { id: result.run.id, ownerId: result.run.owner.id }, "queued");
          activate(ctx.broker, result.run);
          return toPublicRun(result.run);
        },
      },

      /** Stops the run (its host ends the actor after the current iteration), then removes all its data. */
      delete: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>) {
          const run = await visibleRun(fork(), ctx.params.runId, caller(ctx.params));
          // Give up the lease first: the host's writes stop counting, and no node re-activates the run.
          await updateRun(orm, run.id, (r) => {
            r.ownerNode = null;
            r.leaseUntil = null;
            return true;
          });
          if (ACTIVE_STATUSES.includes(run.status) && run.ownerNode) {
            if (run.ownerNode === ctx.broker.nodeID) await actors.get(run.id)?.deactivate();
            else {
              await ctx
                .call("runs.deactivate", { runId: run.id }, { nodeID: run.ownerNode })
                .catch((err: unknown) =>
                  logger.warn({ err, runId: run.id }, "the run's host did not answer"),
                );
            }
          }
          await fork().nativeDelete(Run, { id: run.id });
          return { deleted: true };
        },
      },

      metrics: {
        visibility: "public",
        params: {
          ...RUN_CALLER,
          fromIteration: { type: "number", integer: true, min: 0, optional: true },
          maxPoints: { type: "number", integer: true, min: 1, max: 10_000, optional: true },
        },
        async handler(ctx: Context<RunParams & { fromIteration?: number; maxPoints?: number }>) {
          const em = fork();
          const run = await visibleRun(em, ctx.params.runId, caller(ctx.params));
          const points = await metricHistory(em, run.id, ctx.params.fromIteration ?? 0, ctx.params.maxPoints);
          return { runId: run.id, points };
        },
      },

      /** The latest checkpoint as rl's single-blob format (`encodeCheckpoint`). */
      checkpoint: {
        visibility: "public",
        params: RUN_CALLER,
        async handler(ctx: Context<RunParams>) {
          const run = await visibleRun(fork(), ctx.params.runId, caller(ctx.params));
          const c = await latestCheckpoint(orm, run.id);
          if (!c) throw new NotFoundError("checkpoint");
          return {
            runId: run.id,
            iteration: c.iteration,
            globalStep: c.globalStep,
            bytes: new Uint8Array(c.bytes),
          };
        },
      },

      /** On the hosting node: a run's row changed (stop request), a waiting actor looks again now. */
      wake: {
        visibility: "public",
        params: { runId: "uuid" },
        handler(ctx: Context<{ runId: string }>) {
          actors.get(ctx.params.runId)?.wake();
          return { hosted: actors.has(ctx.params.runId) };
        },
      },

      /** On the hosting node: ends the run's actor after its current message, releasing its runners. */
      deactivate: {
        visibility: "public",
        params: { runId: "uuid" },
        async handler(ctx: Context<{ runId: string }>) {
          const actor = actors.get(ctx.params.runId);
          await actor?.deactivate();
          return { deactivated: actor !== undefined };
        },
      },
    },

    events: {
      /** Slots came free somewhere: queued runs on this node try to reserve now rather than at their next poll. */
      [WORKERS_FREED_EVENT]: {
        handler() {
          for (const actor of actors.values()) actor.wake();
        },
      },
    },

    methods: {},

    async started() {
      broker = this.broker as ServiceBroker;
      const b = broker;
      await maintain(b);
      timer = setInterval(
        () => {
          maintain(b).catch((err: unknown) => logger.warn({ err }, "run lease maintenance failed"));
        },
        Math.min(config.RUN_SCHEDULE_INTERVAL_MS, config.RUN_LEASE_TTL_MS / 3),
      );
      timer.unref();
    },

    async stopped() {
      clearInterval(timer);
      await Promise.all([...actors.values()].map((a) => a.deactivate()));
      actors.clear();
    },
  };
}
