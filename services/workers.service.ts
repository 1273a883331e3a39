import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { EnvRunner, type RunnerSample } from "../actors/env-runner.ts";
import { WORKERS_FREED_EVENT } from "../contracts/workers.ts";
import { ConflictError, EnvFailedError, NotFoundError } from "../lib/errors.ts";
import { workerSlotsOf } from "../moleculer.config.ts";
import type { EnvRunnerSpec } from "../rl/ppo/distributed.ts";
import type { RolloutCollectorState } from "../rl/ppo/rollout.ts";
import { CodeVectorEnv } from "../sandbox/code-vector-env.ts";
import { implement } from "./action.ts";
import type { ServiceDeps } from "./deps.ts";
import { addWorkerSlots, recordWorkerEnvSteps } from "./metrics.ts";
import { codeEnvCaps } from "./runs/code-envs.ts";
import { workerStatuses } from "./runs/runner-pool.ts";
import { pgArray } from "./runs/store.ts";
import { WORKERS_ACTIONS } from "./workers/actions.ts";

/**
 * EnvRunner hosting on a worker node. Capacity is WORKER_SLOTS (default: one per core) and WORKER_GPU,
 * advertised in the node's metadata; every reservation is counted here, on the node itself, so a node
 * never hosts more runners than it has slots whatever the schedulers believe. A run's runners are
 * released when its actor ends (`workers.release`) or when the node hosting the run disconnects.
 *
 * Internal actions are "public", not "protected": Moleculer does not register protected actions for
 * remote nodes, and the runs node that reserves and drives runners is usually another process.
 */
interface Slot {
  runId: string;
  ownerNode: string;
  /** The lease epoch of the run's activation that reserved it (absent from a caller that sends none). */
  epoch: number | undefined;
  runner: EnvRunner | null;
  /** A second runner of a run in a slot it already holds (granted when the node was full). */
  shared: boolean;
}

export default function workersService(deps: ServiceDeps): ServiceSchema {
  const { config } = deps;
  const logger = deps.logger.child({ svc: "workers" });
  const slots = workerSlotsOf(config);
  const held = new Map<string, Slot>();
  let draining = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let removeSlotsMetric: (() => void) | undefined;
  const used = () => [...held.values()].filter((s) => !s.shared).length;
  const freeSlots = () => (draining ? 0 : Math.max(0, slots - used()));

  /**
   * Frees the runners whose run no longer wants them: the run is gone or no longer active, or its lease
   * moved to another node (the host that reserved them died or was cut off, and the release it would
   * have sent never came). The database decides, not a message that may have been lost.
   */
  const sweep = async (broadcast: (free: number) => void) => {
    // Only the runners held before the query: one reserved while it runs is not judged on old rows.
    const snapshot = [...held];
    const runIds = [...new Set(snapshot.map(([, s]) => s.runId))];
    if (runIds.length === 0) return;
    const rows = await deps.db.orm.em
      .getConnection()
      .execute<{ id: string; owner_node: string | null; lease_epoch: number; status: string }[]>(
        `select "id", "owner_node", "lease_epoch", "status" from "runs" where "id" = any(?::uuid[])`,
        [pgArray(runIds)],
      );
    const live = new Map(rows.map((r) => [r.id, r]));
    let released = 0;
    for (const [id, s] of snapshot) {
      const run = live.get(s.runId);
      const wanted =
        run &&
        ["queued", "running", "stopping"].includes(run.status) &&
        run.owner_node === s.ownerNode &&
        (s.epoch === undefined || run.lease_epoch === s.epoch);
      if (!wanted && free(id, s)) released++;
    }
    if (released > 0) {
      logger.warn({ released }, "released env runners whose run moved on or ended");
      broadcast(freeSlots());
    }
  };

  /** Frees a slot; a runner's sandbox process (environments defined by code) ends with it. */
  const free = (id: string, slot: Slot): boolean => {
    if (held.get(id) !== slot) return false;
    held.delete(id);
    slot.runner
      ?.close()
      .catch((err: unknown) => logger.warn({ err, runnerId: id }, "closing a runner failed"));
    return true;
  };

  /**
   * Builds a runner. An environment defined by code gets its own sandbox process (its isolate lives
   * as long as the runner); anything its code does wrong is the run's failure (ENV_FAILED), with the
   * env's own message, never this node's.
   */
  const createRunner = async (spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<EnvRunner> => {
    if (!spec.codeEnv) return EnvRunner.create(spec, state);
    let env: CodeVectorEnv | undefined;
    try {
      env = await CodeVectorEnv.open(spec.envId, spec.codeEnv, spec.numEnvs, {
        limits: {
          memoryMb: config.CODE_ENV_MEMORY_MB,
          callCpuMs: config.CODE_ENV_CALL_CPU_MS,
          processMemoryMb: config.CODE_ENV_PROCESS_MEMORY_MB,
        },
        // Checked at grading and at run start; again here for a run taken over after ops lowered a cap.
        caps: codeEnvCaps(config),
      });
      return await EnvRunner.create(spec, state, env);
    } catch (err) {
      await env?.close().catch(() => undefined);
      throw envFailure(spec.envId, err);
    }
  };

  const slotOf = (runnerId: string): Slot => {
    const slot = held.get(runnerId);
    if (!slot) throw new NotFoundError("env runner", { runnerId });
    return slot;
  };

  /**
   * A run's new activation asks for runners while this node still holds runners for a previous one:
   * another host (that died or was cut off, and whose disconnection may not be noticed yet), or the same
   * node under an older lease epoch (it lost the lease in an outage and took the run back; the release
   * its old activation sent was lost). If the database names the caller as the run's host, the old
   * runners are orphans and their slots are freed now.
   */
  const dropTakenOver = async (runId: string, ownerNode: string, epoch: number | undefined) => {
    const older = (s: Slot) =>
      s.ownerNode !== ownerNode || (epoch !== undefined && s.epoch !== undefined && s.epoch < epoch);
    const stale = [...held].filter(([, s]) => s.runId === runId && older(s));
    if (stale.length === 0) return;
    const rows = await deps.db.orm.em
      .getConnection()
      .execute<{ owner_node: string | null; lease_epoch: number }[]>(
        `select "owner_node", "lease_epoch" from "runs" where "id" = ?`,
        [runId],
      );
    const row = rows[0];
    if (row?.owner_node !== ownerNode || (epoch !== undefined && row.lease_epoch !== epoch)) return;
    for (const [id, s] of stale) free(id, s);
    logger.warn({ runId, released: stale.length }, "released the env runners of a run's previous host");
  };

  return {
    name: "workers",

    settings: {},

    dependencies: [],

    actions: implement(WORKERS_ACTIONS, {
      /**
       * This node's capacity and runners. Asked on behalf of a run's host (`runId`, `ownerNode`), the
       * runners this node still holds for the run's previous host are freed first when they are orphans.
       */
      async status(ctx) {
        if (ctx.params.runId && ctx.params.ownerNode)
          await dropTakenOver(ctx.params.runId, ctx.params.ownerNode, ctx.params.epoch);
        return {
          nodeID: ctx.broker.nodeID,
          slots,
          free: freeSlots(),
          gpu: config.WORKER_GPU,
          backend: config.PROXIMA_BACKEND,
          runners: [...held].map(([id, s]) => ({
            id,
            runId: s.runId,
            ownerNode: s.ownerNode,
            initialized: s.runner !== null,
            shared: s.shared,
          })),
          draining,
        };
      },

      /** Every worker node's status (for the API), asked of each node. */
      list(ctx) {
        return workerStatuses(ctx.broker);
      },

      /**
       * Reserves up to `count` runner slots for a run; grants what is free (the caller decides). With
       * `share`, a full node that already hosts a runner of the run grants one more runner in that slot:
       * a run that lost a runner and finds no free slot continues on fewer slots rather than waiting.
       */
      async reserve(ctx) {
        const { runId, ownerNode, epoch, count, gpu, share } = ctx.params;
        if (draining || (gpu && !config.WORKER_GPU)) return { runnerIds: [] };
        await dropTakenOver(runId, ownerNode, epoch);
        const grant = Math.min(count, freeSlots());
        const runnerIds: string[] = [];
        for (let i = 0; i < grant; i++) {
          const id = randomUUID();
          held.set(id, { runId, ownerNode, epoch, runner: null, shared: false });
          runnerIds.push(id);
        }
        if (grant === 0 && share) {
          const hosts = [...held.values()].some(
            (s) => s.runId === runId && s.ownerNode === ownerNode && s.epoch === epoch && !s.shared,
          );
          if (hosts) {
            const id = randomUUID();
            held.set(id, { runId, ownerNode, epoch, runner: null, shared: true });
            return { runnerIds: [id], shared: true };
          }
        }
        return { runnerIds };
      },

      /** Builds a reserved runner's envs and collector (from a checkpointed state when given). */
      async init(ctx) {
        const { runnerId, spec, state } = ctx.params;
        const slot = slotOf(runnerId);
        const runner = await createRunner(spec, state);
        const previous = slot.runner;
        slot.runner = runner;
        // Released while it was being built: nobody will sample it.
        if (held.get(runnerId) !== slot) await runner.close();
        await previous?.close();
        return { ok: true };
      },

      /** One rollout with the weights sent (binary Float32Array); trajectories come back as typed arrays. */
      async sample(ctx) {
        const { runnerId, version, policy, normalization } = ctx.params;
        const runner = slotOf(runnerId).runner;
        if (!runner) throw new ConflictError("the env runner was reserved but not initialised", { runnerId });
        let sample: RunnerSample;
        if (!runner.spec.codeEnv) sample = await runner.sample({ version, policy, normalization });
        else {
          try {
            sample = await runner.sample({ version, policy, normalization });
          } catch (err) {
            throw envFailure(runner.spec.envId, err);
          }
        }
        recordWorkerEnvSteps(runner.spec.numEnvs * runner.spec.config.numSteps);
        return sample;
      },

      /** Frees a run's runners (all of them, or those named). */
      release(ctx) {
        const { runId, runnerIds } = ctx.params;
        const ids = runnerIds ?? [...held].filter(([, s]) => s.runId === runId).map(([id]) => id);
        let released = 0;
        for (const id of ids) {
          const slot = held.get(id);
          if (slot?.runId === runId && free(id, slot)) released++;
        }
        if (released > 0)
          ctx.broadcast(WORKERS_FREED_EVENT, { nodeID: ctx.broker.nodeID, free: freeSlots() });
        return { released };
      },
    }),

    events: {
      /** The node hosting a run is gone: its runners here would never be released otherwise. */
      "$node.disconnected": {
        handler(ctx: Context<{ node: { id: string } }>) {
          const gone = ctx.params.node.id;
          let released = 0;
          for (const [id, s] of held) if (s.ownerNode === gone && free(id, s)) released++;
          if (released > 0) {
            logger.warn({ node: gone, released }, "released the env runners of a disconnected runs node");
            ctx.broadcast(WORKERS_FREED_EVENT, { nodeID: ctx.broker.nodeID, free: freeSlots() });
          }
        },
      },
    },

    methods: {},

    started() {
      logger.info({ slots, gpu: config.WORKER_GPU }, "worker slots available");
      removeSlotsMetric = addWorkerSlots(() => ({ slots, used: used(), gpu: config.WORKER_GPU, draining }));
      const broker = this.broker;
      sweepTimer = setInterval(() => {
        sweep((free) => void broker.broadcast(WORKERS_FREED_EVENT, { nodeID: broker.nodeID, free })).catch(
          (err: unknown) => logger.warn({ err }, "checking the env runners' runs failed"),
        );
      }, config.RUN_LEASE_TTL_MS);
      sweepTimer.unref();
    },

    /**
     * Drain (SIGTERM). By now the broker has told the cluster this node offers no services, and the
     * rollouts in flight have finished (request tracking waits for them). The runners are let go: a
     * run's next sample here fails at once and its actor moves the shard, from the state it holds, to a
     * runner elsewhere, without failing the iteration.
     */
    stopped() {
      draining = true;
      clearInterval(sweepTimer);
      removeSlotsMetric?.();
      if (held.size > 0) logger.info({ runners: held.size }, "draining: releasing env runners");
      for (const [id, s] of [...held]) free(id, s);
    },
  };
}

/**
 * What an environment defined by code did wrong, as the run's failure with the env's own message. A
 * sandbox process that crashed or never started (`crash`) is this node's trouble as much as the env's:
 * it stays a runner failure, so the run moves the runner elsewhere (and fails after its budget of
 * runner failures if the env is what kills every process it runs in).
 */
function envFailure(envId: string, err: unknown): Error {
  if (err instanceof EnvFailedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const kind = err instanceof Error && "kind" in err && typeof err.kind === "string" ? err.kind : "runtime";
  if (kind === "crash") return new Error(`the sandbox of ${envId} failed: ${message}`, { cause: err });
  return new EnvFailedError(`the environment ${envId} failed: ${message}`, { envId, kind });
}
