import type { ApiDeps } from "../context.ts";
import type { RouteScope } from "../routing/route-table.ts";
import { authRoutes } from "./auth.ts";
import { exerciseRoutes } from "./exercises.ts";
import { progressRoutes } from "./progress.ts";
import { runRoutes } from "./runs.ts";
import { submissionRoutes } from "./submissions.ts";
import { sweepRoutes } from "./sweeps.ts";
import { userRoutes } from "./users.ts";
import { workerRoutes } from "./workers.ts";
import { wsRoutes } from "./ws.ts";

/**
 * Every area of the versioned API. A new area is one module exporting `(v1, deps) => void` that adds
 * its routes, listed here.
 */
export const API_V1_MODULES: ReadonlyArray<(v1: RouteScope, deps: ApiDeps) => void> = [
  authRoutes,
  userRoutes,
  runRoutes,
  workerRoutes,
  wsRoutes,
  exerciseRoutes,
  submissionRoutes,
  progressRoutes,
  sweepRoutes,
];
