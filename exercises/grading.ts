import type { ZodType } from "zod";
import type { SandboxCallResult, SandboxFailure, SandboxLimits, SandboxResult } from "../sandbox/index.ts";
import type { Exercise, GradeReport, Sandbox, TestOutcome, VisibleTest } from "./types.ts";

/**
 * Grading of "write this function" exercises: one sandbox job runs the visible tests, then the
 * hidden ones, as calls of the submitted function in one fresh isolate; the host compares each
 * return value with the reference implementation's (from `rl/`). The isolate never grades itself.
 */

/** `now` and the `Math.random` seed every grading job sees: the same code always gets the same grade. */
export const GRADING_NOW = Date.UTC(2024, 0, 1);

export interface HiddenTest {
  name: string;
  args: unknown[];
  expected: unknown;
}

export interface FunctionExerciseSpec<T> extends Omit<Exercise, "kind" | "grade" | "visibleTests"> {
  visibleTests: (VisibleTest & { expected: unknown })[];
  /** Built once from a fixed seed, so that every submission of a version meets the same inputs. */
  hiddenTests: HiddenTest[];
  /** The shape every return value must have (checked on the host before comparing). */
  schema: ZodType<T>;
  /** Null when `actual` matches `expected`, else what differs (without revealing `expected`). */
  compare(actual: T, expected: unknown): string | null;
  /** Seed of `Math.random` inside the isolate. */
  seed: number;
}

export function functionExercise<T>(spec: FunctionExerciseSpec<T>): Exercise {
  const { hiddenTests, schema, compare, seed, ...rest } = spec;
  return {
    ...rest,
    kind: "function",
    async grade(code: string, sandbox: Sandbox): Promise<GradeReport> {
      const tests = [
        ...spec.visibleTests.map((t) => ({ ...t, hidden: false })),
        ...hiddenTests.map((t) => ({ ...t, hidden: true })),
      ];
      const result = await sandbox.run({
        code,
        entry: spec.entry,
        // A hidden test's console output would show its inputs: it never leaves the sandbox.
        calls: tests.map((t) => ({ name: t.name, args: t.args, withholdConsole: t.hidden })),
        limits: spec.limits,
        seed,
        now: GRADING_NOW,
        schema,
      });
      const outcomes = result.calls.map((call, i) => {
        const test = tests[i]!;
        return outcomeOf(call, test.hidden, (value) => {
          const problem = compare(value as T, test.expected);
          if (problem === null) return null;
          return test.hidden
            ? problem
            : `${problem}; expected ${preview(test.expected)}, got ${preview(value)}`;
        });
      });
      return report(spec.points, spec.passingScore, outcomes, [result]);
    },
  };
}

/**
 * What a test the job never reached says: the job's own failure (a syntax error, a top-level throw,
 * memory) is the grade's `error`, said once, rather than repeated on every test.
 */
export const NOT_RUN_MESSAGE = "not run: the code failed before this test (see the error)";

/**
 * Whether a call was never attempted: the sandbox fills the calls a failed job did not reach with
 * its failure, prefixed "not run: " (sandbox/result.ts).
 */
function notReached(call: SandboxCallResult<unknown>): boolean {
  return !call.ok && call.error.message.startsWith("not run");
}

/** Turns a call's result into a test outcome; `mismatch` runs only for a call that returned. */
export function outcomeOf(
  call: SandboxCallResult<unknown>,
  hidden: boolean,
  mismatch: (value: unknown) => string | null,
): TestOutcome {
  const timeMs = round(call.timeMs, 3);
  if (notReached(call)) return { name: call.name, hidden, passed: false, message: NOT_RUN_MESSAGE, timeMs };
  if (!call.ok) {
    return {
      name: call.name,
      hidden,
      passed: false,
      message: `${call.error.kind}: ${hidden ? hiddenFailure(call.error) : call.error.message}`,
      timeMs,
    };
  }
  const problem = mismatch(call.value);
  return { name: call.name, hidden, passed: problem === null, message: problem ?? "ok", timeMs };
}

/**
 * What a hidden test's failure may say. What the code threw (`runtime`) and what the in-isolate
 * harness reports (`result`, which the code can forge) are the code's own words, able to carry the
 * test's inputs (`throw new Error(JSON.stringify(arguments))`): they are withheld. The sandbox's own
 * messages (timeout, memory, crash) say nothing of the inputs and stay.
 */
function hiddenFailure(error: SandboxFailure): string {
  if (error.kind === "runtime")
    return "the function threw; what it threw is not shown for hidden tests (it could show their inputs)";
  if (error.kind === "result" || error.kind === "syntax")
    return "the return value was refused; the details are not shown for hidden tests (they could show their inputs)";
  return error.message;
}

/**
 * Score = points × passed tests / tests (every test weighs the same, `scored: false` ones not at
 * all), rounded to 0.01; the submission passes when the score reaches `passingScore` of the points.
 * A job that failed as a whole (the code did not load, ran out of memory or time, or its process
 * died) is an `error`.
 */
export function report(
  points: number,
  passingScore: number,
  tests: TestOutcome[],
  results: readonly SandboxResult<unknown>[],
  extra: { runtimeMs?: number; error?: string | null; console?: string } = {},
): GradeReport {
  const scored = tests.filter((t) => t.scored !== false);
  const passedCount = scored.filter((t) => t.passed).length;
  const score = scored.length === 0 ? 0 : round((points * passedCount) / scored.length, 2);
  const failedJob = results.find((r) => r.status === "error");
  const error =
    extra.error ?? (failedJob?.error ? `${failedJob.error.kind}: ${failedJob.error.message}` : null);
  const status = error !== null ? "error" : score >= points * passingScore - 1e-9 ? "passed" : "failed";
  const console = extra.console ?? results.map((r) => r.console).join("");
  return {
    status,
    score,
    maxScore: points,
    tests,
    console,
    consoleTruncated: results.some((r) => r.consoleTruncated),
    runtimeMs: round(extra.runtimeMs ?? results.reduce((s, r) => s + r.wallTimeMs, 0), 3),
    cpuTimeMs: round(
      results.reduce((s, r) => s + r.cpuTimeMs, 0),
      3,
    ),
    memoryBytes: results.reduce((m, r) => Math.max(m, r.memoryBytes), 0),
    error,
  };
}

/** |a − e| ≤ atol + rtol·|e|: the references compute in float32 (Float32Array), the learner in float64. */
export const ATOL = 1e-5;
export const RTOL = 1e-4;

export function closeTo(actual: number, expected: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= ATOL + RTOL * Math.abs(expected);
}

/** Compares two number arrays; the message names the first bad index and by how much it is off. */
export function compareArrays(
  actual: readonly number[],
  expected: readonly number[],
  what = "value",
): string | null {
  if (actual.length !== expected.length)
    return `${what} has ${actual.length} elements, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    if (!closeTo(actual[i]!, expected[i]!)) {
      return `${what}[${i}] is off by ${formatNumber(Math.abs(actual[i]! - expected[i]!))} (tolerance ${ATOL} + ${RTOL}·|expected|)`;
    }
  }
  return null;
}

export function compareNumbers(actual: number, expected: number, what = "value"): string | null {
  return closeTo(actual, expected)
    ? null
    : `${what} is off by ${formatNumber(Math.abs(actual - expected))} (tolerance ${ATOL} + ${RTOL}·|expected|)`;
}

function formatNumber(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(3) : String(x);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A short JSON rendering for messages of visible tests. */
export function preview(value: unknown, max = 200): string {
  let text: string;
  try {
    text =
      JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" ? Number(v.toPrecision(6)) : v)) ??
      "undefined";
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Rounds like the references store (float32), so that inputs are exactly what they compute with. */
export const f32 = (x: number): number => Math.fround(x);

export type { SandboxLimits };
