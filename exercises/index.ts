import advantageNormalization from "./advantage-normalization.ts";
import clippedSurrogateLoss from "./clipped-surrogate-loss.ts";
import clippedValueLoss from "./clipped-value-loss.ts";
import customEnvironment from "./custom-environment.ts";
import discountedReturns from "./discounted-returns.ts";
import gae from "./gae.ts";
import mountainCarShaping from "./mountain-car-shaping.ts";
import { renderStatement } from "./statement.ts";
import type { Exercise, ExerciseSummary, PublicExercise } from "./types.ts";

/**
 * The exercise catalogue, in the order a learner meets PPO's pieces. Each exercise is one file; its
 * `version` changes whenever its grading does (tests, points, threshold), and submissions keep the
 * version they were graded against.
 */
export const EXERCISES: readonly Exercise[] = [
  discountedReturns,
  gae,
  advantageNormalization,
  clippedSurrogateLoss,
  clippedValueLoss,
  mountainCarShaping,
  customEnvironment,
];

const BY_ID = new Map(EXERCISES.map((e) => [e.id, e]));

export function getExercise(id: string): Exercise | undefined {
  return BY_ID.get(id);
}

export function exerciseSummary(e: Exercise): ExerciseSummary {
  return {
    id: e.id,
    version: e.version,
    kind: e.kind,
    title: e.title,
    summary: e.summary,
    points: e.points,
    passingScore: e.passingScore,
  };
}

/** Statements are constants: each is typeset once per process. */
const STATEMENT_HTML = new WeakMap<Exercise, string>();

function statementHtml(e: Exercise): string {
  let html = STATEMENT_HTML.get(e);
  if (html === undefined) {
    html = renderStatement(e.statement);
    STATEMENT_HTML.set(e, html);
  }
  return html;
}

/** What the API may show: no hidden test and no grader leaves the server. */
export function publicExercise(e: Exercise): PublicExercise {
  const { cpuTimeMs, wallTimeMs, memoryMb } = e.limits;
  return {
    ...exerciseSummary(e),
    statement: e.statement,
    statementHtml: statementHtml(e),
    starterCode: e.starterCode,
    signature: e.signature,
    entry: e.entry,
    visibleTests: e.visibleTests.map((t) => ({ ...t })),
    limits: { cpuTimeMs, wallTimeMs, memoryMb },
  };
}

export type {
  Exercise,
  ExerciseSummary,
  GradeReport,
  PublicExercise,
  Sandbox,
  TestOutcome,
} from "./types.ts";
