import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { EnvRunner, type RunnerSample } from "../actors/env-runner.ts";
import { BadRequestError, ConflictError, NotFoundError } from "../lib/errors.ts";
import { workerSlotsOf } from "../moleculer.config.ts";
import type { EnvRunnerSpec } from "../rl/ppo/distributed.ts";
import type { RolloutCollectorState } from "../rl/ppo/rollout.ts";
import type { ServiceDeps } from "./deps.ts";
import { workerStatuses } from "./runs/runner-pool.ts";

/**
 * EnvRunner hosting on a worker node. Capacity is WORKER_SLOTS (default: one per core) and WORKER_GPU,
 * advertised in the node's metadata; every reservation is counted here, on the node itself, so a node
 * never hosts more runners than it has slots whatever the schedulers believe. A run's runners are
 * released when its actor ends (`workers.release`) or when the node hosting the run disconnects.
 *
 * Internal actions are "public", not "protected": Moleculer does not register protected actions for
 * remote nodes, and the runs node that reserves and drives runners is usually another process.
 */
export const WORKERS_FREED_EVENT = "workers.freed";

export interface WorkerStatus {
  nodeID: string;
  slots: number;
  free: number;
  gpu: boolean;
  backend: string;
  runners: { id: string; runId: string; ownerNode: string; initialized: boolean }[];
}

interface Slot {
  runId: string;
  ownerNode: string;
  runner: EnvRunner | null;
}

export default function workersService(deps: ServiceDeps): ServiceSchema {
  const { config } = deps;
  const logger = deps.logger.child({ svc: "workers" });
  const slots = workerSlotsOf(config);
  const held = new Map<string, Slot>();

  const slotOf = (runnerId: string): Slot => {
    const slot = held.get(runnerId);
    if (!slot) throw new NotFoundError("env runner", { runnerId });
    return slot;
  };

  return {
    name: "workers",

    settings: {},

    dependencies: [],

    actions: {
      /** This node's capacity and runners. */
      status: {
        visibility: "public",
        params: {},
        handler(ctx: Context): WorkerStatus {
          return {
            nodeID: ctx.broker.nodeID,
            slots,
            free: slots - held.size,
            gpu: config.WORKER_GPU,
            backend: config.PROXIMA_BACKEND,
            runners: [...held].map(([id, s]) => ({
              id,
              runId: s.runId,
              ownerNode: s.ownerNode,
              initialized: s.runner !== null,
            })),
          };
        },
      },

      /** Every worker node's status (for the API), asked of each node. */
      list: {
        visibility: "public",
        params: {},
        handler(ctx: Context): Promise<WorkerStatus[]> {
          return workerStatuses(ctx.broker);
        },
      },

      /** Reserves up to `count` runner slots for a run; grants what is free (the caller decides). */
      reserve: {
        visibility: "public",
        params: {
          runId: "uuid",
          ownerNode: "string",
          count: { type: "number", integer: true, min: 1, max: 1024 },
          gpu: { type: "boolean", optional: true },
        },
        handler(ctx: Context<{ runId: string; ownerNode: string; count: number; gpu?: boolean }>) {
          const { runId, ownerNode, count, gpu } = ctx.params;
          if (gpu && !config.WORKER_GPU) return { runnerIds: [] };
          const grant = Math.min(count, slots - held.size);
          const runnerIds: string[] = [];
          for (let i = 0; i < grant; i++) {
            const id = randomUUID();
            held.set(id, { runId, ownerNode, runner: null });
            runnerIds.push(id);
          }
          return { runnerIds };
        },
      },

      /** Builds a reserved runner's envs and collector (from a checkpointed state when given). */
      init: {
        visibility: "public",
        params: { runnerId: "uuid", spec: "object", state: { type: "object", optional: true } },
        async handler(
          ctx: Context<{ runnerId: string; spec: EnvRunnerSpec; state?: RolloutCollectorState }>,
        ) {
          const slot = slotOf(ctx.params.runnerId);
          slot.runner = await EnvRunner.create(ctx.params.spec, ctx.params.state);
          return { ok: true };
        },
      },

      /** One rollout with the weights sent (binary Float32Array); trajectories come back as typed arrays. */
      sample: {
        visibility: "public",
        params: { runnerId: "uuid", version: { type: "number", integer: true }, policy: "any" },
        handler(ctx: Context<{ runnerId: string; version: number; policy: unknown }>): RunnerSample {
          const { runnerId, version, policy } = ctx.params;
          if (!(policy instanceof Float32Array)) throw new BadRequestError("policy must be a Float32Array");
          const runner = slotOf(runnerId).runner;
          if (!runner)
            throw new ConflictError("the env runner was reserved but not initialised", { runnerId });
          return runner.sample({ version, policy });
        },
      },

      /** Frees a run's runners (all of them, or those named). */
      release: {
        visibility: "public",
        params: { runId: "uuid", runnerIds: { type: "array", items: "string", optional: true } },
        handler(ctx: Context<{ runId: string; runnerIds?: string[] }>) {
          const { runId, runnerIds } = ctx.params;
          const ids = runnerIds ?? [...held].filter(([, s]) => s.runId === runId).map(([id]) => id);
          let released = 0;
          for (const id of ids) if (held.get(id)?.runId === runId && held.delete(id)) released++;
          if (released > 0)
            ctx.broadcast(WORKERS_FREED_EVENT, { nodeID: ctx.broker.nodeID, free: slots - held.size });
          return { released };
        },
      },
    },

    events: {
      /** The node hosting a run is gone: its runners here would never be released otherwise. */
      "$node.disconnected": {
        handler(ctx: Context<{ node: { id: string } }>) {
          const gone = ctx.params.node.id;
          let released = 0;
          for (const [id, s] of held) if (s.ownerNode === gone && held.delete(id)) released++;
          if (released > 0) {
            logger.warn({ node: gone, released }, "released the env runners of a disconnected runs node");
            ctx.broadcast(WORKERS_FREED_EVENT, { nodeID: ctx.broker.nodeID, free: slots - held.size });
          }
        },
      },
    },

    methods: {},

    started() {
      logger.info({ slots, gpu: config.WORKER_GPU }, "worker slots available");
    },

    stopped() {
      held.clear();
    },
  };
}
