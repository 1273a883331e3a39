import { z } from "zod";
import { WorkerStatusSchema } from "../../contracts/workers.ts";
import type { ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { callService } from "./call.ts";

export function workerRoutes(v1: RouteScope, deps: ApiDeps): void {
  v1.add({
    method: "get",
    path: "/workers",
    operationId: "listWorkers",
    summary: "Worker nodes: slots, free slots, GPU, backend, runners in use.",
    tags: ["workers"],
    access: { roles: ["researcher", "admin"] },
    responses: { 200: { description: "Every reachable worker node.", schema: z.array(WorkerStatusSchema) } },
    async handler(ctx) {
      ctx.body = await callService(deps, ctx, "workers.list", {});
    },
  });
}
