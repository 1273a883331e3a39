import { availableParallelism } from "node:os";
import { Errors, type ServiceBroker, type ServiceSchema } from "moleculer";
import type { Config } from "../config.ts";
import { SUBMISSION_GRADED_EVENT, type SubmissionGradedEvent } from "../contracts/submissions.ts";
import { EXERCISES, exerciseSummary, getExercise, publicExercise } from "../exercises/index.ts";
import type { GradingContext } from "../exercises/types.ts";
import { ForbiddenError, NotFoundError, PayloadTooLargeError } from "../lib/errors.ts";
import { codeEnvId } from "../rl/envs/code-env.ts";
import { implement } from "./action.ts";
import type { ServiceDeps } from "./deps.ts";
import { codeEnvCaps } from "./runs/code-envs.ts";
import { holder, roleQuotas } from "./runs/quotas.ts";
import { SUBMISSIONS_ACTIONS } from "./submissions/actions.ts";
import { errorReport, type GradedSubmission, Grader } from "./submissions/grader.ts";
import {
  adoptQueued,
  createSubmission,
  finishSubmission,
  listSubmissions,
  progressOf,
  progressPage,
  toPublicSubmission,
  unfinishedSubmissions,
  visibleSubmission,
} from "./submissions/store.ts";
import { effectiveQuota } from "./users/quotas.ts";

/**
 * Exercises and graded code submissions. This service owns the node's sandbox pool, so it is hosted
 * by controller processes, never by API-only ones (the API reaches it over the broker). A submission
 * is written `queued` (quotas checked in the same transaction), graded asynchronously, and its grade
 * and the learner's progress are committed together; then `submissions.graded` is broadcast and every
 * API node tells the learner's WebSockets.
 *
 * Restarts: a submission still `queued` is graded again by the next start (or adopted by another node
 * once its node is gone); one left `running` is marked `error`: it may be the very code that brought
 * its process down, and grading it again could do so forever.
 */

/** What an environment check may meet and use, from the node's settings. */
export function envCheckSettings(config: Config): NonNullable<GradingContext["env"]> {
  return {
    caps: codeEnvCaps(config),
    limits: { memoryMb: config.CODE_ENV_MEMORY_MB, processMemoryMb: config.CODE_ENV_PROCESS_MEMORY_MB },
    budget: { cpuMs: config.SUBMISSIONS_ENV_CHECK_CPU_MS, wallMs: config.SUBMISSIONS_ENV_CHECK_WALL_MS },
  };
}

const INTERRUPTED =
  "grading was interrupted: the process grading this submission stopped or crashed; submit again";

export default function submissionsService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  const orm = db.orm;
  const quotas = roleQuotas(config);
  const logger = deps.logger.child({ svc: "submissions" });
  let broker: ServiceBroker | undefined;
  let grader: Grader | undefined;
  let timer: NodeJS.Timeout | undefined;

  const notify = (b: ServiceBroker, { submission, report }: GradedSubmission) => {
    const payload: SubmissionGradedEvent = {
      submissionId: submission.id,
      userId: submission.user.id,
      exerciseId: submission.exerciseId,
      exerciseVersion: submission.exerciseVersion,
      status: report.status,
      score: report.score,
      maxScore: report.maxScore,
      envId: submission.envSpec ? codeEnvId(submission.id) : null,
    };
    void b.broadcast(SUBMISSION_GRADED_EVENT, payload);
  };

  const alive = (b: ServiceBroker, nodeID: string): boolean =>
    nodeID === b.nodeID || b.registry.nodes.get(nodeID)?.available === true;

  /**
   * The unfinished submissions this node is not grading: its own (after a restart its memory is empty;
   * later, one whose grading could not be written, e.g. while the database was away), those of no
   * node, and those of nodes that are gone. Other nodes' rows are left alone at start, since other
   * nodes may not have been discovered yet.
   */
  const recover = async (b: ServiceBroker, g: Grader, atStart: boolean) => {
    for (const row of await unfinishedSubmissions(orm)) {
      if (g.holds(row.id)) continue;
      const owner = row.ownerNode ?? null;
      const ours = owner === b.nodeID;
      if (owner !== null && !ours && (atStart || alive(b, owner))) continue;
      if (row.status === "running") {
        const maxScore = getExercise(row.exerciseId)?.points ?? 0;
        const graded = await finishSubmission(orm, row.id, ["running"], errorReport(maxScore, INTERRUPTED));
        if (graded) {
          logger.warn({ submissionId: row.id, owner }, "submission interrupted while graded: marked error");
          notify(b, { submission: graded, report: errorReport(maxScore, INTERRUPTED) });
        }
      } else if (ours || (await adoptQueued(orm, row.id, owner, b.nodeID))) {
        g.enqueue(row.id, row.exerciseId, row.user.id);
      }
    }
  };

  return {
    name: "submissions",

    settings: {},

    dependencies: [],

    actions: implement(SUBMISSIONS_ACTIONS, {
      exercises() {
        return EXERCISES.map(exerciseSummary);
      },

      exercise(ctx) {
        const exercise = getExercise(ctx.params.exerciseId);
        if (!exercise) throw new NotFoundError("exercise");
        return publicExercise(exercise);
      },

      async create(ctx) {
        const { exerciseId, code, userId, role } = ctx.params;
        const exercise = getExercise(exerciseId);
        if (!exercise) throw new NotFoundError("exercise");
        const bytes = Buffer.byteLength(code, "utf8");
        if (bytes > config.SUBMISSION_MAX_CODE_BYTES) {
          throw new PayloadTooLargeError(
            `the code takes ${bytes} bytes; at most ${config.SUBMISSION_MAX_CODE_BYTES} are accepted`,
            { limit: config.SUBMISSION_MAX_CODE_BYTES },
          );
        }
        if (!grader)
          throw new Errors.ServiceNotAvailableError({
            action: "submissions.create",
            nodeID: ctx.broker.nodeID,
          });
        const q = await effectiveQuota(orm.em.fork(), quotas, { userId, role });
        const submission = await createSubmission(
          orm,
          {
            userId,
            exerciseId,
            exerciseVersion: exercise.version,
            maxScore: exercise.points,
            code,
            ownerNode: ctx.broker.nodeID,
            typicalSeconds: exercise.kind === "training" ? 10 : 2,
          },
          {
            perMinute: q.submissionsPerMinute,
            perMinuteOf: holder(role, q, "submissionsPerMinute"),
            concurrent: config.SUBMISSIONS_CONCURRENT_PER_USER,
          },
        );
        grader.enqueue(submission.id, exerciseId, userId);
        return toPublicSubmission(submission, true);
      },

      async get(ctx) {
        const s = await visibleSubmission(orm.em.fork(), ctx.params.submissionId, ctx.params);
        return toPublicSubmission(s, true);
      },

      list(ctx) {
        const { exerciseId, limit, cursor, forUser } = ctx.params;
        if (!getExercise(exerciseId)) throw new NotFoundError("exercise");
        return listSubmissions(orm.em.fork(), ctx.params, {
          exerciseId,
          limit: limit ?? 20,
          cursor,
          userId: forUser,
        });
      },

      async myProgress(ctx) {
        const [progress] = await progressOf(orm.em.fork(), [{ id: ctx.params.userId }]);
        return progress!;
      },

      async progress(ctx) {
        if (ctx.params.role !== "admin") throw new ForbiddenError("only admins see every learner's progress");
        return progressPage(orm.em.fork(), { limit: ctx.params.limit ?? 20, cursor: ctx.params.cursor });
      },

      stats() {
        return { ...(grader?.stats() ?? { queued: 0, active: 0 }), pool: grader?.pool.stats() ?? null };
      },
    }),

    events: {},

    methods: {},

    async started() {
      broker = this.broker as ServiceBroker;
      const b = broker;
      const g = new Grader({
        orm,
        nodeID: () => b.nodeID,
        logger,
        pool: { size: config.SUBMISSIONS_POOL_SIZE ?? Math.max(1, availableParallelism() - 1) },
        envChecks: config.SUBMISSIONS_ENV_CHECKS_CONCURRENT,
        context: { env: envCheckSettings(config) },
        onGraded: (graded) => notify(b, graded),
      });
      grader = g;
      await recover(b, g, true);
      timer = setInterval(() => {
        recover(b, g, false).catch((err: unknown) => logger.warn({ err }, "submission recovery failed"));
      }, config.SUBMISSIONS_RECOVERY_INTERVAL_MS);
      timer.unref();
    },

    async stopped() {
      clearInterval(timer);
      await grader?.stop();
      grader = undefined;
    },
  };
}
