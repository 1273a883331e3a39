import { createHash } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { PublicSubmission, SubmissionStatus, UserProgress } from "../../contracts/submissions.ts";
import { ExerciseProgress } from "../../db/entities/ExerciseProgress.ts";
import { Submission } from "../../db/entities/Submission.ts";
import { User } from "../../db/entities/User.ts";
import { lockUserQuota } from "../../db/user-lock.ts";
import { EXERCISES, type GradeReport } from "../../exercises/index.ts";
import {
  decodeKeysetCursor,
  decodeTextCursor,
  encodeKeysetCursor,
  encodeTextCursor,
} from "../../lib/cursor.ts";
import { BadRequestError, NotFoundError, RateLimitedError } from "../../lib/errors.ts";
import { codeEnvId } from "../../rl/envs/code-env.ts";

/** Database side of submissions: quotas, state transitions, the grade and progress transaction. */

export interface Caller {
  userId: string;
  role: string;
}

export interface Quotas {
  /** The user's effective `submissionsPerMinute` (services/users/quotas.ts). */
  perMinute: number;
  /** Whose that limit is, as the refusal says it: "a learner", "this account". */
  perMinuteOf: string;
  concurrent: number;
}

export function codeHash(code: string): string {
  return createHash("sha256").update(code, "utf8").digest("hex");
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function toPublicSubmission(s: Submission, withCode = false): PublicSubmission {
  return {
    id: s.id,
    userId: s.user.id,
    exerciseId: s.exerciseId,
    exerciseVersion: s.exerciseVersion,
    codeHash: s.codeHash,
    ...(withCode ? { code: s.code } : {}),
    status: s.status,
    score: s.score,
    maxScore: s.maxScore,
    tests: s.tests,
    console: s.console,
    consoleTruncated: s.consoleTruncated,
    error: s.error ?? null,
    runtimeMs: s.runtimeMs ?? null,
    cpuTimeMs: s.cpuTimeMs ?? null,
    memoryBytes: s.memoryBytes ?? null,
    envId: s.envSpec ? codeEnvId(s.id) : null,
    envSpec: s.envSpec ?? null,
    createdAt: s.createdAt.toISOString(),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
  };
}

/**
 * Checks the user's quotas and writes the queued submission, under a per-user advisory lock held
 * to the end of the transaction: 50 simultaneous requests of one user (on any number of nodes)
 * are counted one after the other, so none slips past a limit.
 */
export async function createSubmission(
  orm: MikroORM,
  input: {
    userId: string;
    exerciseId: string;
    exerciseVersion: number;
    maxScore: number;
    code: string;
    ownerNode: string;
    /** Seconds a grading of this exercise usually takes (the Retry-After of the concurrency quota). */
    typicalSeconds: number;
  },
  quotas: Quotas,
): Promise<Submission> {
  return orm.em.fork().transactional(async (em) => {
    await lockUserQuota(em, "submissions", input.userId);
    const active = await em.count(Submission, { user: input.userId, status: { $in: ["queued", "running"] } });
    if (active >= quotas.concurrent) {
      throw new RateLimitedError(
        `at most ${quotas.concurrent} submissions may be queued or graded at once; wait for one to finish`,
        input.typicalSeconds,
      );
    }
    const windowStart = new Date(Date.now() - 60_000);
    const recent = await em.find(
      Submission,
      { user: input.userId, createdAt: { $gt: windowStart } },
      { orderBy: { createdAt: "asc" }, fields: ["id", "createdAt"], limit: quotas.perMinute },
    );
    if (recent.length >= quotas.perMinute) {
      const oldest = recent[0]!.createdAt.getTime();
      throw new RateLimitedError(
        `${quotas.perMinuteOf} may make at most ${quotas.perMinute} submissions per minute`,
        (oldest + 60_000 - Date.now()) / 1000,
      );
    }
    const submission = em.create(Submission, {
      user: input.userId,
      exerciseId: input.exerciseId,
      exerciseVersion: input.exerciseVersion,
      code: input.code,
      codeHash: codeHash(input.code),
      status: "queued",
      maxScore: input.maxScore,
      tests: [],
      ownerNode: input.ownerNode,
    });
    await em.flush();
    return submission;
  });
}

/** queued → running, once: false when another node or a recovery got there first. */
export async function claimSubmission(orm: MikroORM, id: string, node: string): Promise<Submission | null> {
  const rows = await orm.em.fork().execute<{ id: string }[]>(
    `update "submissions" set "status" = 'running', "started_at" = now(), "owner_node" = ?
       where "id" = ? and "status" = 'queued' returning "id"`,
    [node, id],
  );
  if (rows.length === 0) return null;
  return orm.em.fork().findOne(Submission, { id });
}

/** running → queued: the node is shutting down before the grading started in the sandbox. */
export async function requeueSubmission(orm: MikroORM, id: string): Promise<void> {
  await orm.em
    .fork()
    .execute(
      `update "submissions" set "status" = 'queued', "started_at" = null where "id" = ? and "status" = 'running'`,
      [id],
    );
}

/**
 * The grade and the learner's progress in one transaction: the submission leaves `from` (so that a
 * grade and a recovery can never both count), then the progress row of (user, exercise) is
 * upserted: one more attempt, the best score kept, `passed` once passed. False when the submission
 * was no longer in `from`.
 */
export async function finishSubmission(
  orm: MikroORM,
  id: string,
  from: readonly SubmissionStatus[],
  report: GradeReport,
): Promise<Submission | null> {
  return orm.em.fork().transactional(async (em) => {
    const rows = await em.execute<{ user_id: string; exercise_id: string; created_at: Date }[]>(
      `update "submissions" set "status" = ?, "score" = ?, "max_score" = ?, "tests" = ?::jsonb, "console" = ?,
         "console_truncated" = ?, "error" = ?, "runtime_ms" = ?, "cpu_time_ms" = ?, "memory_bytes" = ?,
         "env_spec" = ?::jsonb, "finished_at" = now(), "started_at" = coalesce("started_at", now())
       where "id" = ? and "status" in (?)
       returning "user_id", "exercise_id", "created_at"`,
      [
        report.status,
        report.score,
        report.maxScore,
        JSON.stringify(report.tests),
        report.console,
        report.consoleTruncated,
        report.error,
        report.runtimeMs,
        report.cpuTimeMs,
        report.memoryBytes,
        report.envSpec ? JSON.stringify(report.envSpec) : null,
        id,
        [...from],
      ],
    );
    const row = rows[0];
    if (!row) return null;
    const passed = report.status === "passed";
    await em.execute(
      `insert into "exercise_progress" ("id", "user_id", "exercise_id", "attempts", "best_score", "max_score",
         "passed", "best_submission_id", "first_passed_at", "last_submission_at", "updated_at")
       values (gen_random_uuid(), ?, ?, 1, ?, ?, ?, ?, ?, ?, now())
       on conflict ("user_id", "exercise_id") do update set
         "attempts" = "exercise_progress"."attempts" + 1,
         "best_submission_id" = case when excluded."best_score" > "exercise_progress"."best_score"
           or "exercise_progress"."best_submission_id" is null
           then excluded."best_submission_id" else "exercise_progress"."best_submission_id" end,
         "best_score" = greatest("exercise_progress"."best_score", excluded."best_score"),
         "max_score" = excluded."max_score",
         "passed" = "exercise_progress"."passed" or excluded."passed",
         "first_passed_at" = coalesce("exercise_progress"."first_passed_at", excluded."first_passed_at"),
         "last_submission_at" = greatest("exercise_progress"."last_submission_at", excluded."last_submission_at"),
         "updated_at" = now()`,
      [
        row.user_id,
        row.exercise_id,
        report.score,
        report.maxScore,
        passed,
        id,
        passed ? new Date() : null,
        row.created_at,
      ],
    );
    return em.findOne(Submission, { id });
  });
}

/** Every unfinished submission, oldest first (the recovery decides which are its to handle). */
export function unfinishedSubmissions(orm: MikroORM): Promise<Submission[]> {
  return orm.em
    .fork()
    .find(Submission, { status: { $in: ["queued", "running"] } }, { orderBy: { createdAt: "asc" } });
}

/** Takes over a queued submission of a node that is gone (conditional: one node wins). */
export async function adoptQueued(
  orm: MikroORM,
  id: string,
  previousOwner: string | null,
  node: string,
): Promise<boolean> {
  const rows = await orm.em.fork().execute<{ id: string }[]>(
    `update "submissions" set "owner_node" = ? where "id" = ? and "status" = 'queued'
       and "owner_node" is not distinct from ? returning "id"`,
    [node, id, previousOwner],
  );
  return rows.length > 0;
}

export async function visibleSubmission(em: EntityManager, id: string, caller: Caller): Promise<Submission> {
  const s = await em.findOne(Submission, { id });
  if (!s || (caller.role !== "admin" && s.user.id !== caller.userId)) throw new NotFoundError("submission");
  return s;
}

function encodeCursor(createdAt: Date, id: string): string {
  return encodeKeysetCursor(createdAt, id);
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  const position = decodeKeysetCursor(cursor);
  if (!position) throw new BadRequestError("the cursor is not valid", { field: "query.cursor" });
  return position;
}

/** Newest first; the caller's own, or everyone's (optionally one user's) for an admin. */
export async function listSubmissions(
  em: EntityManager,
  caller: Caller,
  q: { exerciseId: string; limit: number; cursor?: string; userId?: string },
): Promise<{ items: PublicSubmission[]; nextCursor: string | null }> {
  const where: Record<string, unknown> = { exerciseId: q.exerciseId };
  if (caller.role !== "admin") where["user"] = caller.userId;
  else if (q.userId) where["user"] = q.userId;
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    where["$or"] = [{ createdAt: { $lt: c.at } }, { createdAt: c.at, id: { $lt: c.id } }];
  }
  const rows = await em.find(Submission, where, {
    orderBy: { createdAt: "desc", id: "desc" },
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: page.map((s) => toPublicSubmission(s)),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

const TITLES = new Map(EXERCISES.map((e) => [e.id, e.title]));

/**
 * Progress of some users: exercise rows as the grading transactions left them, and runs derived
 * from the runs and their metric points (launched per env, best iteration-mean episodic return during
 * training, best deterministic evaluation of a completed run's final policy).
 */
export async function progressOf(
  em: EntityManager,
  users: readonly { id: string; email?: string; name?: string }[],
): Promise<UserProgress[]> {
  if (users.length === 0) return [];
  const ids = users.map((u) => u.id);
  const rows = await em.find(ExerciseProgress, { user: { $in: ids } }, { orderBy: { exerciseId: "asc" } });
  const runRows = await em.execute<
    {
      owner_id: string;
      env_id: string;
      runs: string;
      best: number | null;
      best_eval: number | null;
      last: Date | null;
    }[]
  >(
    `select r."owner_id", r."env_id", count(*) as "runs", max(r."created_at") as "last",
       max((r."evaluation"->>'returnMean')::float8) as "best_eval",
       (select max((m."metrics"->>'charts/episodic_return')::float8) from "metric_points" m
         join "runs" r2 on r2."id" = m."run_id"
         where r2."owner_id" = r."owner_id" and r2."env_id" = r."env_id"
           and jsonb_typeof(m."metrics"->'charts/episodic_return') = 'number') as "best"
     from "runs" r where r."owner_id" in (?) group by r."owner_id", r."env_id" order by r."env_id"`,
    [ids],
  );
  return users.map((u) => {
    const mine = rows.filter((r) => r.user.id === u.id);
    const runs = runRows.filter((r) => r.owner_id === u.id);
    const activity = [
      ...mine.map((r) => r.lastSubmissionAt.getTime()),
      ...runs.flatMap((r) => (r.last ? [new Date(r.last).getTime()] : [])),
    ];
    return {
      userId: u.id,
      ...(u.email !== undefined ? { email: u.email } : {}),
      ...(u.name !== undefined ? { name: u.name } : {}),
      exercisesAttempted: mine.length,
      exercisesPassed: mine.filter((r) => r.passed).length,
      exercisesTotal: EXERCISES.length,
      points: Math.round(mine.reduce((s, r) => s + r.bestScore, 0) * 100) / 100,
      attempts: mine.reduce((s, r) => s + r.attempts, 0),
      lastActivity: activity.length > 0 ? new Date(Math.max(...activity)).toISOString() : null,
      exercises: mine.map((r) => ({
        exerciseId: r.exerciseId,
        title: TITLES.get(r.exerciseId) ?? r.exerciseId,
        attempts: r.attempts,
        bestScore: r.bestScore,
        maxScore: r.maxScore,
        passed: r.passed,
        bestSubmissionId: r.bestSubmissionId ?? null,
        firstPassedAt: iso(r.firstPassedAt),
        lastSubmissionAt: r.lastSubmissionAt.toISOString(),
      })),
      runs: {
        launched: runs.reduce((s, r) => s + Number(r.runs), 0),
        byEnv: runs.map((r) => ({
          env: r.env_id,
          runs: Number(r.runs),
          bestEpisodicReturn: r.best === null ? null : Number(r.best),
          bestEvaluationReturn: r.best_eval === null ? null : Number(r.best_eval),
        })),
      },
    };
  });
}

/** Every user's progress, by email, a page at a time (admins). */
export async function progressPage(
  em: EntityManager,
  q: { limit: number; cursor?: string },
): Promise<{ items: UserProgress[]; nextCursor: string | null }> {
  const where: Record<string, unknown> = {};
  if (q.cursor) {
    const email = decodeTextCursor(q.cursor);
    if (!email) throw new BadRequestError("the cursor is not valid", { field: "query.cursor" });
    where["email"] = { $gt: email };
  }
  const users = await em.find(User, where, { orderBy: { email: "asc" }, limit: q.limit + 1 });
  const page = users.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: await progressOf(
      em,
      page.map((u) => ({ id: u.id, email: u.email, name: u.name })),
    ),
    nextCursor: users.length > q.limit && last ? encodeTextCursor(last.email) : null,
  };
}
