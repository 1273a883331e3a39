import type { MikroORM } from "@mikro-orm/postgresql";
import type { Submission } from "../../db/entities/Submission.ts";
import { type Exercise, type GradeReport, getExercise } from "../../exercises/index.ts";
import type { GradingContext } from "../../exercises/types.ts";
import type { Logger } from "../../lib/logger.ts";
import {
  SandboxClosedError,
  SandboxPool,
  type SandboxPoolOptions,
  SandboxUnavailableError,
} from "../../sandbox/index.ts";
import { observeGrading } from "../metrics.ts";
import { claimSubmission, finishSubmission, requeueSubmission } from "./store.ts";

/**
 * The grading loop of one submissions node. It owns the node's SandboxPool (child processes that run
 * the isolates; the node itself never runs submitted code) and three queues of submission ids:
 * function exercises, graded up to `pool.size + 1` at a time (one waiting in the pool keeps every
 * child busy), training exercises, one at a time (their PPO loop runs on this node's event loop,
 * one iteration between two sandbox jobs, so they must not pile up), and environment checks,
 * `envChecks` at a time (each in a sandbox process of its own, bounded by its overall budget). The
 * database is the queue's source of truth: an id here is only a hint, `claimSubmission` decides who
 * grades.
 *
 * Each queue is fair by learner, not first come first served: the next submission graded is that of
 * the learner with the fewest of the lane's gradings in progress, and among those the one served
 * longest ago (FIFO within a learner). A learner who queues many slow submissions then delays each
 * other learner by at most one grading per free slot, instead of by all of them (issue 15, finding 4).
 */
export interface GradedSubmission {
  submission: Submission;
  report: GradeReport;
}

export interface GraderOptions {
  orm: MikroORM;
  nodeID: () => string;
  logger: Logger;
  pool: SandboxPoolOptions;
  /** Environment checks at once (default 1). */
  envChecks?: number;
  /** The node's settings for the graders (caps and budgets of environment checks). */
  context?: GradingContext;
  /** Called after the grade and the progress are committed. */
  onGraded(graded: GradedSubmission): void;
}

export interface Queued {
  id: string;
  userId: string;
}

/** One kind of grading: its queue, fair by learner, and how many run at once. */
export class Lane {
  readonly queue: Queued[] = [];
  active = 0;
  private readonly activeByUser = new Map<string, number>();
  /** When each learner was last served (a counter), to rotate among learners with equal load. */
  private readonly servedAt = new Map<string, number>();
  private served = 0;

  constructor(readonly limit: number) {}

  /** The next submission to grade: the least-busy learner's, the one served longest ago on a tie. */
  take(): Queued | undefined {
    let best = -1;
    let bestKey: [number, number] | undefined;
    const seen = new Set<string>();
    for (let i = 0; i < this.queue.length; i++) {
      const { userId } = this.queue[i]!;
      if (seen.has(userId)) continue;
      seen.add(userId);
      const key: [number, number] = [this.activeByUser.get(userId) ?? 0, this.servedAt.get(userId) ?? -1];
      if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
        best = i;
        bestKey = key;
      }
    }
    if (best < 0) return undefined;
    const [item] = this.queue.splice(best, 1);
    this.active++;
    this.activeByUser.set(item!.userId, (this.activeByUser.get(item!.userId) ?? 0) + 1);
    this.servedAt.set(item!.userId, this.served++);
    return item;
  }

  done(userId: string): void {
    this.active--;
    const left = (this.activeByUser.get(userId) ?? 1) - 1;
    if (left > 0) this.activeByUser.set(userId, left);
    else this.activeByUser.delete(userId);
    // A learner with nothing queued or running is forgotten, so that the map stays as small as the
    // queue; their next submission is ordered as a newcomer's (after the least-busy rule, as ever).
    if (left <= 0 && !this.queue.some((q) => q.userId === userId)) this.servedAt.delete(userId);
  }
}

export class Grader {
  readonly pool: SandboxPool;
  private readonly lanes: Record<Exercise["kind"], Lane>;
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly options: GraderOptions) {
    this.pool = new SandboxPool(options.pool);
    this.lanes = {
      function: new Lane(this.pool.size + 1),
      training: new Lane(1),
      // Each check starts a sandbox process of its own, beside the pool's.
      environment: new Lane(Math.max(1, options.envChecks ?? 1)),
    };
  }

  /** Queues a submission of `userId`'s that this node owns (idempotent). */
  enqueue(id: string, exerciseId: string, userId: string): void {
    if (this.stopping || this.queued.has(id)) return;
    this.queued.add(id);
    const kind = getExercise(exerciseId)?.kind ?? "function";
    this.lanes[kind].queue.push({ id, userId });
    this.pump();
  }

  /** Whether this node is grading or holding the submission. */
  holds(id: string): boolean {
    return this.queued.has(id);
  }

  stats(): { queued: number; active: number } {
    const lanes = Object.values(this.lanes);
    return {
      queued: lanes.reduce((s, l) => s + l.queue.length, 0),
      active: lanes.reduce((s, l) => s + l.active, 0),
    };
  }

  /**
   * Stops taking work and closes the pool: the jobs running in it finish, and a grading that needs
   * another job (a training run) gets `SandboxClosedError` and puts its submission back in the queue.
   * The submissions left queued are graded by the next start, or by another node.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const lane of Object.values(this.lanes)) lane.queue.length = 0;
    const closing = this.pool.close();
    await Promise.allSettled([...this.inFlight]);
    await closing;
  }

  private pump(): void {
    for (const lane of Object.values(this.lanes)) {
      while (!this.stopping && lane.active < lane.limit && lane.queue.length > 0) {
        const { id, userId } = lane.take()!;
        const task = this.gradeOne(id)
          .catch((err: unknown) => this.options.logger.error({ err, submissionId: id }, "grading failed"))
          .finally(() => {
            lane.done(userId);
            this.queued.delete(id);
            this.inFlight.delete(task);
            this.pump();
          });
        this.inFlight.add(task);
      }
    }
  }

  private async gradeOne(id: string): Promise<void> {
    const { orm, logger } = this.options;
    const submission = await claimSubmission(orm, id, this.options.nodeID());
    if (!submission) return;
    const exercise = getExercise(submission.exerciseId);
    let report: GradeReport;
    if (!exercise || exercise.version !== submission.exerciseVersion) {
      report = errorReport(
        submission.maxScore,
        `version ${submission.exerciseVersion} of exercise ${submission.exerciseId} is no longer served; submit again`,
      );
    } else {
      try {
        report = await exercise.grade(submission.code, this.pool, this.options.context);
      } catch (err) {
        if (err instanceof SandboxClosedError) {
          // This node is stopping: the submission goes back to the queue for the next start.
          await requeueSubmission(orm, id);
          return;
        }
        if (!(err instanceof SandboxUnavailableError))
          logger.error({ err, submissionId: id }, "grader defect");
        report = errorReport(
          exercise.points,
          err instanceof SandboxUnavailableError
            ? "the sandbox is unavailable on this node; submit again later"
            : "the grader failed on this submission; it has been logged",
        );
      }
    }
    const graded = await finishSubmission(orm, id, ["running"], report);
    if (!graded) return;
    observeGrading(exercise?.kind ?? "unknown", graded);
    this.options.onGraded({ submission: graded, report });
  }
}

export function errorReport(maxScore: number, error: string): GradeReport {
  return {
    status: "error",
    score: 0,
    maxScore,
    tests: [],
    console: "",
    consoleTruncated: false,
    runtimeMs: 0,
    cpuTimeMs: 0,
    memoryBytes: 0,
    error,
  };
}
