import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { SUBMISSION_STATUSES } from "../../contracts/submissions.ts";
import type { TestOutcome } from "../../exercises/types.ts";
import type { CodeEnvSpec } from "../../rl/envs/code-env.ts";
import { User } from "./User.ts";

/**
 * One piece of code submitted for an exercise, and its grade. `exerciseVersion` pins the version of
 * the catalogue entry it was graded against; `codeHash` (SHA-256 of the UTF-8 code, hex) lets the same
 * code be recognised across submissions. `ownerNode` is the submissions node that queued it: after a
 * restart, a node recovers the unfinished submissions of nodes that are gone.
 */
export const Submission = defineEntity({
  name: "Submission",
  tableName: "submissions",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).ref().deleteRule("cascade"),
    exerciseId: p.text(),
    exerciseVersion: p.integer(),
    code: p.text(),
    codeHash: p.text(),
    status: p.enum(SUBMISSION_STATUSES).default("queued"),
    score: p.float().default(0),
    maxScore: p.integer(),
    tests: p.json<TestOutcome[]>(),
    console: p.text().default(""),
    consoleTruncated: p.boolean().default(false),
    /** Why it could not be graded (status `error`). */
    error: p.text().nullable(),
    runtimeMs: p.float().nullable(),
    cpuTimeMs: p.float().nullable(),
    memoryBytes: p.bigint("number").nullable(),
    ownerNode: p.text().nullable(),
    /** A passed environment submission: the spaces and time limit its code declared (env `custom:<id>`). */
    envSpec: p.json<CodeEnvSpec>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
  // A learner's history of one exercise, newest first (and the per-minute quota); recovery scans.
  indexes: [{ properties: ["user", "exerciseId", "createdAt"] }, { properties: ["status", "ownerNode"] }],
});

export type Submission = InferEntity<typeof Submission>;
