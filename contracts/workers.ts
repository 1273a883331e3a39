import { z } from "zod";

/**
 * The worker pool as the scheduler sees it: one node's slots and the env runners in them. The workers
 * service answers it (`workers.status`, `workers.list`), the runs service schedules on it, and
 * `GET /workers` serves it.
 */
export const WorkerStatusSchema = z
  .object({
    nodeID: z.string(),
    slots: z.number().int().describe("Env runners the node may host."),
    free: z.number().int().describe("Slots not reserved by a run."),
    gpu: z.boolean(),
    backend: z.string().describe("Tensor backend of the node's RL code."),
    runners: z.array(
      z.object({
        id: z.uuid(),
        runId: z.uuid(),
        ownerNode: z.string(),
        initialized: z.boolean(),
        shared: z
          .boolean()
          .describe(
            "A second runner of a run in a slot the run already holds (granted when the node was full).",
          ),
      }),
    ),
    draining: z.boolean().describe("The node is shutting down: it grants no reservations."),
  })
  .meta({ title: "WorkerNode" });
export type WorkerStatus = z.infer<typeof WorkerStatusSchema>;

/** `workers.freed` (broadcast when a node's slots free up): queued runs retry at once. */
export const WORKERS_FREED_EVENT = "workers.freed";
