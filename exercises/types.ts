import type { CodeEnvSpec } from "../rl/envs/code-env.ts";
import type {
  CustomEnvCaps,
  EnvSessionLimits,
  SandboxJob,
  SandboxLimits,
  SandboxResult,
} from "../sandbox/index.ts";

/**
 * The exercise catalogue's shapes. An exercise is code, versioned: a change to its tests, points or
 * threshold is a new `version`, and every submission records the version it was graded against.
 */

/** What grading needs of the sandbox: the pool's `run` (a `SandboxPool` fits). */
export interface Sandbox {
  run<T>(job: SandboxJob<T>): Promise<SandboxResult<T>>;
}

/** The whole check of one environment submission, all its crossings together. */
export interface EnvCheckBudget {
  /** CPU time of the check's isolate. */
  cpuMs: number;
  /** Wall-clock time from the start of the check's sandbox process. */
  wallMs: number;
}

/** What the grading node's settings add to a grading (config.ts); absent: the defaults. */
export interface GradingContext {
  /** Environment exercises: what an env may declare, its sandbox's memory, the check's budget. */
  env?: {
    caps: CustomEnvCaps;
    limits?: Pick<Partial<EnvSessionLimits>, "memoryMb" | "processMemoryMb">;
    budget: EnvCheckBudget;
  };
}

/** A test the learner sees: its arguments and, where there is one, the expected value. */
export interface VisibleTest {
  name: string;
  description: string;
  args: unknown[];
  expected?: unknown;
}

/** One test's outcome, as stored with the submission and shown to the learner. */
export interface TestOutcome {
  name: string;
  /** Hidden tests report only their name, whether they passed and a message without their data. */
  hidden: boolean;
  passed: boolean;
  message: string;
  timeMs: number;
  /** false: shown for information (an example), not counted in the score. */
  scored?: false;
}

/** What grading a submission produced. */
export interface GradeReport {
  /** `error`: the code could not be graded at all (syntax, top-level throw, memory, deadline, crash). */
  status: "passed" | "failed" | "error";
  /** Points earned, 0..points. */
  score: number;
  maxScore: number;
  tests: TestOutcome[];
  console: string;
  consoleTruncated: boolean;
  /** Wall time of the sandbox jobs (and of the training run, for training exercises). */
  runtimeMs: number;
  cpuTimeMs: number;
  /** The largest isolate memory seen over the jobs. */
  memoryBytes: number;
  /** Why the submission could not be graded (status `error`). */
  error: string | null;
  /** An environment exercise that passed: what the env declared (it is then `custom:<submission id>`). */
  envSpec?: CodeEnvSpec | null;
}

/** `environment`: the submission is an environment, graded by checks of its API, then trainable on. */
export type ExerciseKind = "function" | "training" | "environment";

export interface Exercise {
  id: string;
  version: number;
  kind: ExerciseKind;
  title: string;
  /** One line for the catalogue. */
  summary: string;
  /** Markdown. */
  statement: string;
  starterCode: string;
  /** The function the submission must declare, as a TypeScript-like signature. */
  signature: string;
  /** Its name. */
  entry: string;
  points: number;
  /** Fraction of the points needed to pass (0..1]. */
  passingScore: number;
  visibleTests: VisibleTest[];
  /** Sandbox limits of each grading job (the pool's defaults for the rest). */
  limits: Partial<SandboxLimits>;
  grade(code: string, sandbox: Sandbox, context?: GradingContext): Promise<GradeReport>;
}

/** What leaves the server about an exercise: everything but the hidden tests and the grader. */
export interface PublicExercise {
  id: string;
  version: number;
  kind: ExerciseKind;
  title: string;
  summary: string;
  statement: string;
  /** The statement rendered, maths typeset (exercises/statement.ts). */
  statementHtml: string;
  starterCode: string;
  signature: string;
  entry: string;
  points: number;
  passingScore: number;
  visibleTests: VisibleTest[];
  limits: { cpuTimeMs?: number; wallTimeMs?: number; memoryMb?: number };
}

export type ExerciseSummary = Pick<
  PublicExercise,
  "id" | "version" | "kind" | "title" | "summary" | "points" | "passingScore"
>;
