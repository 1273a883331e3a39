import test from "ava";
import { getExercise } from "../../exercises/index.ts";
import { SandboxPool } from "../../sandbox/index.ts";

// Hidden tests' inputs must not reach the learner (issue 15, finding 8): not through what the code
// prints while a hidden test runs, nor through what it throws.

const pool = new SandboxPool({ size: 1 });
test.after.always(() => pool.close());

const exercise = getExercise("discounted-returns")!;

test("the console output of hidden tests is withheld; that of visible tests is kept", async (t) => {
  const code = `
    console.log("top level");
    function discountedReturns(rewards, gamma) {
      console.log("ARGS " + JSON.stringify([rewards, gamma]));
      const out = new Array(rewards.length);
      let g = 0;
      for (let i = rewards.length - 1; i >= 0; i--) out[i] = g = rewards[i] + gamma * g;
      return out;
    }`;
  const report = await exercise.grade(code, pool);
  t.is(report.status, "passed", JSON.stringify(report.tests));
  const hidden = report.tests.filter((x) => x.hidden);
  t.true(hidden.length >= 5);
  const printed = report.console.split("\n").filter((line) => line.startsWith("ARGS "));
  // One line per visible test, with that test's arguments, and nothing of any hidden test.
  t.deepEqual(
    printed,
    exercise.visibleTests.map((v) => `ARGS ${JSON.stringify(v.args)}`),
  );
  t.true(report.console.startsWith("top level\n"));
  t.false(report.consoleTruncated);
});

test("what the code throws in a hidden test is withheld; in a visible test it is shown", async (t) => {
  const code = `function discountedReturns(rewards, gamma) {
    throw new Error("LEAK " + JSON.stringify([rewards, gamma]));
  }`;
  const report = await exercise.grade(code, pool);
  t.is(report.status, "failed");
  const visible = report.tests.filter((x) => !x.hidden);
  const hidden = report.tests.filter((x) => x.hidden);
  for (const v of visible) t.regex(v.message, /^runtime: Error: LEAK \[/);
  for (const h of hidden) {
    t.false(h.message.includes("LEAK"), h.message);
    t.is(
      h.message,
      "runtime: the function threw; what it threw is not shown for hidden tests (it could show their inputs)",
    );
  }
});

test("a hidden test's own failure message, forged through the harness, is withheld too", async (t) => {
  // A return value that is not JSON data is a `result` failure whose message the code can shape.
  const code = `function discountedReturns(rewards) { return { toJSON() { throw new Error("LEAK " + rewards.join()); } }; }`;
  const report = await exercise.grade(code, pool);
  for (const h of report.tests.filter((x) => x.hidden)) t.false(h.message.includes("LEAK"), h.message);
  t.true(report.tests.filter((x) => !x.hidden).some((x) => x.message.includes("LEAK")));
});
