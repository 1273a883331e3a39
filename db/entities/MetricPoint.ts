import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { Run } from "./Run.ts";

/**
 * One iteration's aggregated metrics under CleanRL's keys. Unique on (run, iteration): a replayed
 * iteration (after a resume or a re-activation) overwrites its point, never duplicates it.
 */
export const MetricPoint = defineEntity({
  name: "MetricPoint",
  tableName: "metric_points",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    run: () => p.manyToOne(Run).ref().deleteRule("cascade"),
    iteration: p.integer(),
    globalStep: p.bigint("number"),
    wallTime: p.datetime(),
    metrics: p.json<Record<string, number | null>>(),
  },
  uniques: [{ properties: ["run", "iteration"] }],
});

export type MetricPoint = InferEntity<typeof MetricPoint>;
