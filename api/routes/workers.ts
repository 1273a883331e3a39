import { z } from "zod";
import type { ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

/** The worker pool as the scheduler sees it. */
const WorkerNode = z
  .object({
    nodeID: z.string(),
    slots: z.number().int().describe("Env runners the node may host."),
    free: z.number().int().describe("Slots not reserved by a run."),
    gpu: z.boolean(),
    backend: z.string().describe("Tensor backend of the node's RL code."),
    runners: z.array(
      z.object({ id: z.uuid(), runId: z.uuid(), ownerNode: z.string(), initialized: z.boolean() }),
    ),
  })
  .meta({ title: "WorkerNode" });

export function workerRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "get",
    path: "/workers",
    operationId: "listWorkers",
    summary: "Worker nodes: slots, free slots, GPU, backend, runners in use.",
    tags: ["workers"],
    access: { roles: ["researcher", "admin"] },
    responses: { 200: { description: "Every reachable worker node.", schema: z.array(WorkerNode) } },
    async handler(ctx) {
      ctx.body = await callService(deps, ctx, "workers.list", {});
    },
  });
}
