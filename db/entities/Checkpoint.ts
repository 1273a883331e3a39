import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import type { RolloutCollectorState } from "../../rl/ppo/rollout.ts";
import { Run } from "./Run.ts";

/**
 * A run's state after `iteration`: `bytes` is rl's single-blob checkpoint (`encodeCheckpoint`), a
 * complete checkpoint on its own (`proxima eval` loads it). Its collector state is the whole run's, in
 * global env order (every env's action stream and env state): a resumed distributed run cuts each
 * runner's part from it, so that it continues exactly in any split of the same envs. `runnerStates`
 * keeps each env runner's state as the runner returned it (the same data, split as it was then).
 * Unique on (run, iteration): a replayed iteration overwrites its checkpoint.
 */
export const Checkpoint = defineEntity({
  name: "Checkpoint",
  tableName: "checkpoints",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    run: () => p.manyToOne(Run).ref().deleteRule("cascade"),
    iteration: p.integer(),
    globalStep: p.bigint("number"),
    bytes: p.blob().lazy(),
    runnerStates: p.json<RolloutCollectorState[]>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ properties: ["run", "iteration"] }],
});

export type Checkpoint = InferEntity<typeof Checkpoint>;
