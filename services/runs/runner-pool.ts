import type { ServiceBroker } from "moleculer";
import type { PolicyMessage, RunnerSample } from "../../actors/env-runner.ts";
import type { PoolCapacity } from "../../actors/fair-share.ts";
import type { RunnerHandle, RunnerPool } from "../../actors/training-run.ts";
import type { RunPool } from "../../contracts/runs.ts";
import type { WorkerStatus } from "../../contracts/workers.ts";
import type { NodeMetadata } from "../../moleculer.config.ts";
import type { EnvRunnerSpec } from "../../rl/ppo/distributed.ts";
import type { RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import { call } from "../actions.ts";

/**
 * Worker nodes known to this broker: those whose metadata advertises runner slots; with `gpu`, only
 * the nodes of that pool (GPU nodes serve GPU runs, the others every other run: contracts/runs.ts RUN_POOLS).
 */
export function workerNodeIds(broker: ServiceBroker, gpu?: boolean): string[] {
  return broker.registry
    .getNodeList({ onlyAvailable: true, withServices: false })
    .filter((n) => {
      const meta = n.metadata as Partial<NodeMetadata> | undefined;
      return (
        (meta?.workerSlots ?? 0) > 0 &&
        meta?.services?.includes("workers") &&
        (gpu === undefined || (meta.gpu === true) === gpu)
      );
    })
    .map((n) => n.id as string);
}

/** Every worker node's status (of one pool, with `gpu`), asked of each node itself (unreachable nodes are left out). */
export async function workerStatuses(
  broker: ServiceBroker,
  gpu?: boolean,
  forRun?: { runId: string; ownerNode: string; epoch?: number },
): Promise<WorkerStatus[]> {
  const statuses = await Promise.all(
    workerNodeIds(broker, gpu).map((nodeID) =>
      call(broker, "workers.status", forRun ?? {}, { nodeID, retries: 0 }).catch(() => null),
    ),
  );
  return statuses.filter((s): s is WorkerStatus => s !== null);
}

/** A pool's capacity as its scheduler sees it: the slots of its live worker nodes that are not draining. */
export async function poolCapacity(broker: ServiceBroker, pool: RunPool): Promise<PoolCapacity> {
  let slots = 0;
  let free = 0;
  for (const s of await workerStatuses(broker, pool === "gpu")) {
    if (s.draining) continue;
    slots += s.slots;
    free += s.free;
  }
  return { slots, free };
}

/**
 * The runs node's side of the worker pool. A reservation is all or nothing: a run that gets fewer
 * runners than it asked for gives them back and stays queued, so that two half-served runs never
 * hold each other's slots. Runners are spread over the nodes with the most free slots first; every
 * message for a runner is routed to its node by `nodeID`, never retried by the broker (a retry may
 * land on another node, where the runner does not exist): the actor handles a failed runner itself.
 */
export class BrokerRunnerPool implements RunnerPool {
  /**
   * `epoch`: the lease epoch of the activation this pool serves. Runners are reserved in its name, so
   * that a worker frees the runners of an older activation of the run even when the same node took the
   * run back (it lost the lease in an outage and claimed it again): the node alone does not tell them apart.
   */
  constructor(
    private readonly broker: ServiceBroker,
    private readonly epoch?: number,
  ) {}

  /** Who reserves: this node, as the activation of `epoch`. */
  private host(runId: string): { runId: string; ownerNode: string; epoch?: number } {
    return {
      runId,
      ownerNode: this.broker.nodeID,
      ...(this.epoch === undefined ? {} : { epoch: this.epoch }),
    };
  }

  async reserve(runId: string, count: number, gpu: boolean): Promise<RunnerHandle[] | null> {
    const free = new Map<string, number>();
    const me = this.host(runId);
    for (const s of await workerStatuses(this.broker, gpu, me)) if (s.free > 0) free.set(s.nodeID, s.free);
    const plan = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      let best: string | null = null;
      for (const [node, n] of free) if (n > 0 && (best === null || n > free.get(best)!)) best = node;
      if (best === null) return null;
      free.set(best, free.get(best)! - 1);
      plan.set(best, (plan.get(best) ?? 0) + 1);
    }
    const granted: RunnerHandle[] = [];
    await Promise.all(
      [...plan].map(async ([nodeID, n]) => {
        const reply = await call(
          this.broker,
          "workers.reserve",
          { ...me, count: n, gpu },
          { nodeID, retries: 0 },
        ).catch(() => ({ runnerIds: [] }));
        for (const id of reply.runnerIds) granted.push({ id, nodeID });
      }),
    );
    if (granted.length < count) {
      await this.release(runId, granted);
      return null;
    }
    // Runner index i is a fixed position in the merged batch: order them the same way every time.
    return granted.sort((a, b) =>
      a.nodeID === b.nodeID ? a.id.localeCompare(b.id) : a.nodeID.localeCompare(b.nodeID),
    );
  }

  async reserveOne(runId: string, gpu: boolean, shareOn: readonly string[]): Promise<RunnerHandle | null> {
    const me = this.host(runId);
    const statuses = await workerStatuses(this.broker, gpu, me);
    const free = statuses.filter((s) => s.free > 0).sort((a, b) => b.free - a.free);
    const ask = async (nodeID: string, share: boolean): Promise<RunnerHandle | null> => {
      const reply: { runnerIds: string[]; shared?: boolean } = await call(
        this.broker,
        "workers.reserve",
        { ...me, count: 1, gpu, share },
        { nodeID, retries: 0 },
      ).catch(() => ({ runnerIds: [] }));
      const id = reply.runnerIds[0];
      return id === undefined ? null : { id, nodeID, shared: reply.shared === true };
    };
    for (const s of free) {
      const handle = await ask(s.nodeID, false);
      if (handle) return handle;
    }
    const reachable = new Set(statuses.map((s) => s.nodeID));
    for (const nodeID of new Set(shareOn)) {
      if (!reachable.has(nodeID)) continue;
      const handle = await ask(nodeID, true);
      if (handle) return handle;
    }
    return null;
  }

  async init(handle: RunnerHandle, spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<void> {
    await call(
      this.broker,
      "workers.init",
      { runnerId: handle.id, spec, state },
      { nodeID: handle.nodeID, retries: 0 },
    );
  }

  sample(handle: RunnerHandle, weights: PolicyMessage): Promise<RunnerSample> {
    return call(
      this.broker,
      "workers.sample",
      {
        runnerId: handle.id,
        version: weights.version,
        policy: weights.policy,
        ...(weights.normalization ? { normalization: weights.normalization } : {}),
      },
      { nodeID: handle.nodeID, retries: 0 },
    );
  }

  async release(runId: string, handles: readonly RunnerHandle[]): Promise<readonly RunnerHandle[]> {
    const nodes = new Set(handles.map((h) => h.nodeID));
    const failed: RunnerHandle[] = [];
    await Promise.all(
      [...nodes].map(async (nodeID) => {
        const mine = handles.filter((h) => h.nodeID === nodeID);
        await call(
          this.broker,
          "workers.release",
          { runId, runnerIds: mine.map((h) => h.id) },
          { nodeID, retries: 0 },
        ).catch(() => {
          // Unreachable now (dead, frozen, cut off): the caller retries; a node that comes back
          // then frees the slots, and one that never does took them with it.
          failed.push(...mine);
        });
      }),
    );
    return failed;
  }
}
