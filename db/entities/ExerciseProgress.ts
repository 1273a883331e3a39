import { randomUUID } from "node:crypto";
import { defineEntity, type InferEntity, p } from "@mikro-orm/postgresql";
import { User } from "./User.ts";

/**
 * A learner's standing on one exercise, written in the same transaction as the grade of each of
 * their submissions to it: graded attempts, best score, whether (and when first) it was passed.
 */
export const ExerciseProgress = defineEntity({
  name: "ExerciseProgress",
  tableName: "exercise_progress",
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).ref().deleteRule("cascade"),
    exerciseId: p.text(),
    /** Graded submissions (passed, failed or error). */
    attempts: p.integer().default(0),
    bestScore: p.float().default(0),
    maxScore: p.integer(),
    passed: p.boolean().default(false),
    bestSubmissionId: p.uuid().nullable(),
    firstPassedAt: p.datetime().nullable(),
    lastSubmissionAt: p.datetime(),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  uniques: [{ properties: ["user", "exerciseId"] }],
});

export type ExerciseProgress = InferEntity<typeof ExerciseProgress>;
