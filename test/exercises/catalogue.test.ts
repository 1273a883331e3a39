import test from "ava";
import { referenceNormalize } from "../../exercises/advantage-normalization.ts";
import { referenceSurrogate, surrogateCase } from "../../exercises/clipped-surrogate-loss.ts";
import { referenceValueLoss } from "../../exercises/clipped-value-loss.ts";
import { referenceDiscountedReturns } from "../../exercises/discounted-returns.ts";
import { referenceGae } from "../../exercises/gae.ts";
import { NOT_RUN_MESSAGE } from "../../exercises/grading.ts";
import { EXERCISES, getExercise, publicExercise } from "../../exercises/index.ts";
import { SandboxPool } from "../../sandbox/index.ts";
import { SOLUTIONS } from "./solutions.ts";

const pool = new SandboxPool({ size: 2 });
test.after.always(() => pool.close());

const close = (t: import("ava").ExecutionContext, actual: number[], expected: number[]) => {
  t.is(actual.length, expected.length);
  for (const [i, a] of actual.entries())
    t.true(Math.abs(a - expected[i]!) < 1e-5, `${i}: ${a} vs ${expected[i]}`);
};

test("the references the graders use agree with hand-computed values", (t) => {
  close(t, referenceDiscountedReturns([1, 1, 1], 0.9), [2.71, 1.9, 1]);
  // δ2 = 1 − 0.5 (terminated: no bootstrap); δ1 = 1 + 0.9·0.5 − 0.5; δ0 = δ1; A = δ + 0.9·0.95·A_next.
  const d = 1 + 0.9 * 0.5 - 0.5;
  const a2 = 0.5;
  const a1 = d + 0.855 * a2;
  const a0 = d + 0.855 * a1;
  const g = referenceGae({
    rewards: [1, 1, 1],
    values: [0.5, 0.5, 0.5],
    terminated: [false, false, true],
    truncated: [false, false, false],
    finalValues: [0, 0, 0],
    nextValue: 0.7,
    gamma: 0.9,
    lambda: 0.95,
  });
  close(t, g.advantages, [a0, a1, a2]);
  close(t, referenceNormalize([1, 2, 3]), [-1, 0, 1]);
  const s = referenceSurrogate(surrogateCase([Math.log(0.9)], [Math.log(0.5)], [2], 0.2));
  close(t, [s.pg_loss, s.clipfrac], [-2.4, 1]);
  close(t, [referenceValueLoss({ newValues: [1.5], oldValues: [1], returns: [2], clipCoef: 0.2 })], [0.32]);
});

test("the public view of an exercise carries no hidden test and no grader", (t) => {
  for (const exercise of EXERCISES) {
    const view = publicExercise(exercise);
    t.false("grade" in view);
    t.false("hiddenTests" in view);
    t.true(view.statement.startsWith("# "));
    t.true(view.starterCode.includes(view.entry));
    t.true(view.visibleTests.length >= 2);
    t.true(view.passingScore > 0 && view.passingScore <= 1);
  }
});

for (const exercise of EXERCISES.filter((e) => e.kind === "function")) {
  test(`${exercise.id}: a correct solution gets full marks, the starter code does not pass`, async (t) => {
    const solution = await exercise.grade(SOLUTIONS[exercise.id]!, pool);
    t.is(solution.status, "passed", JSON.stringify(solution.tests.filter((x) => !x.passed)));
    t.is(solution.score, exercise.points);
    t.true(solution.tests.filter((x) => x.hidden).length >= 5);
    const starter = await exercise.grade(exercise.starterCode, pool);
    t.is(starter.status, "failed");
    t.true(starter.score < exercise.points * exercise.passingScore);
  });
}

test("grading is deterministic: the same code, relying on Math.random and Date, gets the same grade", async (t) => {
  const exercise = getExercise("advantage-normalization")!;
  const code = `function normalizeAdvantages(a) {
  console.log(Date.now(), Math.random());
  return a.map((x) => x + Math.random() * 1e-3);
}`;
  const [a, b] = [await exercise.grade(code, pool), await exercise.grade(code, pool)];
  const strip = (r: typeof a) => r.tests.map(({ timeMs: _t, ...rest }) => rest);
  t.deepEqual(strip(a), strip(b));
  t.is(a.console, b.console);
  t.is(a.status, "failed");
});

test("mountain-car-shaping: a shaping function that throws fails its examples and trains nothing", async (t) => {
  const exercise = getExercise("mountain-car-shaping")!;
  const r = await exercise.grade("function shapeReward() { throw new Error('nope'); }", pool);
  t.is(r.status, "failed");
  t.is(r.score, 0);
  t.regex(r.tests[0]!.message, /runtime: Error: nope/);
  t.true(r.tests.slice(2).every((x) => x.message === "the examples failed"));
});

test("mountain-car-shaping: energy-based shaping passes the training run, the plain reward does not", async (t) => {
  const exercise = getExercise("mountain-car-shaping")!;
  const shaped = await exercise.grade(SOLUTIONS["mountain-car-shaping"]!, pool);
  t.is(shaped.status, "passed", JSON.stringify(shaped.tests));
  t.true(shaped.score >= exercise.points * exercise.passingScore);
  const plain = await exercise.grade(exercise.starterCode, pool);
  t.is(plain.status, "failed");
  t.regex(
    plain.tests.find((x) => /greedy policy reaches/.test(x.name))!.message,
    /reached the flag in 0 of 10/,
  );
  // Its two examples pass, but are shown as such and not scored: no "2 passed" beside 0 points.
  t.is(plain.score, 0);
  t.deepEqual(
    plain.tests.filter((x) => x.passed).map((x) => x.scored),
    [false, false],
  );
  t.true(plain.tests.slice(2).every((x) => x.scored === undefined && !x.passed));
});

test("a function exercise whose code does not compile: the syntax error is said once, the tests were not run", async (t) => {
  const exercise = getExercise("gae")!;
  const r = await exercise.grade("function gae( {", pool);
  t.is(r.status, "error");
  t.is(r.score, 0);
  t.regex(r.error ?? "", /^syntax: SyntaxError/);
  t.true(r.tests.length > 2);
  for (const x of r.tests) {
    t.false(x.passed);
    t.is(x.message, NOT_RUN_MESSAGE);
  }
});

test("mountain-car-shaping: a slow shaping function is stopped by its time budget, not trained on for minutes", async (t) => {
  const exercise = getExercise("mountain-car-shaping")!;
  // Fast on the two examples, then seconds of CPU per 1,024-transition batch (3e9 loop turns), past the
  // 1 s per-job CPU limit on any machine. A slower function (~0.2–0.5 s a batch) would hit the 10 s
  // budget or finish training depending on how fast the machine is.
  const code = `let calls = 0;
function shapeReward(obs, action, reward) {
  if (++calls > 2) for (let i = 0; i < 3e6; i++) {}
  return reward;
}`;
  const r = await exercise.grade(code, pool);
  t.is(r.status, "failed");
  // The budget (10 s of sandbox time per seed) ends it, or the per-job CPU limit on a slower machine.
  t.regex(
    r.tests[2]!.message,
    /training stopped: timeout: (shapeReward took more than 10 s in all|execution took more than the CPU limit)/,
  );
});
