import type { ServiceBroker } from "moleculer";
import type { PolicyMessage, RunnerSample } from "../../actors/env-runner.ts";
import type { RunnerHandle, RunnerPool } from "../../actors/training-run.ts";
import type { NodeMetadata } from "../../moleculer.config.ts";
import type { EnvRunnerSpec } from "../../rl/ppo/distributed.ts";
import type { RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import type { WorkerStatus } from "../workers.service.ts";

/** Worker nodes known to this broker: those whose metadata advertises runner slots (and a GPU if asked). */
export function workerNodeIds(broker: ServiceBroker, gpu = false): string[] {
  return broker.registry
    .getNodeList({ onlyAvailable: true, withServices: false })
    .filter((n) => {
      const meta = n.metadata as Partial<NodeMetadata> | undefined;
      return (
        (meta?.workerSlots ?? 0) > 0 && meta?.services?.includes("workers") && (!gpu || meta.gpu === true)
      );
    })
    .map((n) => n.id as string);
}

/** Every worker node's status, asked of each node itself (unreachable nodes are left out). */
export async function workerStatuses(broker: ServiceBroker, gpu = false): Promise<WorkerStatus[]> {
  const statuses = await Promise.all(
    workerNodeIds(broker, gpu).map((nodeID) =>
      (broker.call("workers.status", {}, { nodeID }) as Promise<WorkerStatus>).catch(() => null),
    ),
  );
  return statuses.filter((s): s is WorkerStatus => s !== null);
}

/**
 * The runs node's side of the worker pool. A reservation is all or nothing: a run that gets fewer
 * runners than it asked for gives them back and stays queued, so that two half-served runs never
 * hold each other's slots. Runners are spread over the nodes with the most free slots first; every
 * message for a runner is routed to its node by `nodeID`.
 */
export class BrokerRunnerPool implements RunnerPool {
  constructor(private readonly broker: ServiceBroker) {}

  async reserve(runId: string, count: number, gpu: boolean): Promise<RunnerHandle[] | null> {
    const free = new Map<string, number>();
    for (const s of await workerStatuses(this.broker, gpu)) if (s.free > 0) free.set(s.nodeID, s.free);
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
        const reply = (await this.broker
          .call("workers.reserve", { runId, count: n, ownerNode: this.broker.nodeID, gpu }, { nodeID })
          .catch(() => ({ runnerIds: [] }))) as { runnerIds: string[] };
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

  async init(handle: RunnerHandle, spec: EnvRunnerSpec, state?: RolloutCollectorState): Promise<void> {
    await this.broker.call("workers.init", { runnerId: handle.id, spec, state }, { nodeID: handle.nodeID });
  }

  sample(handle: RunnerHandle, weights: PolicyMessage): Promise<RunnerSample> {
    return this.broker.call(
      "workers.sample",
      { runnerId: handle.id, version: weights.version, policy: weights.policy },
      { nodeID: handle.nodeID },
    ) as Promise<RunnerSample>;
  }

  async release(runId: string, handles: readonly RunnerHandle[]): Promise<void> {
    const nodes = new Set(handles.map((h) => h.nodeID));
    await Promise.all(
      [...nodes].map((nodeID) =>
        this.broker
          .call(
            "workers.release",
            { runId, runnerIds: handles.filter((h) => h.nodeID === nodeID).map((h) => h.id) },
            { nodeID },
          )
          .catch(() => undefined),
      ),
    );
  }
}
